-- one row per campaign with at least one message
-- Quantiles use linear interpolation (quantile_cont); NULL when no message qualifies.
with

messages as (

    select * from int_messages

),

final as (

    select
        campaign_id,
        count(delivery_seconds) as messages_delivered_timed,
        quantile_cont(delivery_seconds, 0.5) as delivery_seconds_p50,
        quantile_cont(delivery_seconds, 0.9) as delivery_seconds_p90,
        quantile_cont(delivery_seconds, 0.99) as delivery_seconds_p99,
        avg(delivery_seconds) as delivery_seconds_mean,
        max(delivery_seconds) as delivery_seconds_max,
        count(final_seconds) as messages_final_timed,
        quantile_cont(final_seconds, 0.5) as final_seconds_p50,
        quantile_cont(final_seconds, 0.9) as final_seconds_p90,
        quantile_cont(final_seconds, 0.99) as final_seconds_p99

    from messages
    group by campaign_id

)

select * from final

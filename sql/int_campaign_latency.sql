-- one row per campaign with at least one message
-- Quantiles use linear interpolation (quantile_cont); NULL when no message qualifies. Each latency's three
-- quantiles come from one quantile_cont over a list of fractions: one sort of the campaign's values, not three.
with

messages as (

    select * from int_messages

),

aggregated as (

    select
        campaign_id,
        count(delivery_seconds) as messages_delivered_timed,
        quantile_cont(delivery_seconds, [0.5, 0.9, 0.99]) as delivery_quantiles,
        avg(delivery_seconds) as delivery_seconds_mean,
        max(delivery_seconds) as delivery_seconds_max,
        count(final_seconds) as messages_final_timed,
        quantile_cont(final_seconds, [0.5, 0.9, 0.99]) as final_quantiles

    from messages
    group by campaign_id

),

final as (

    select
        campaign_id,
        messages_delivered_timed,
        delivery_quantiles[1] as delivery_seconds_p50,
        delivery_quantiles[2] as delivery_seconds_p90,
        delivery_quantiles[3] as delivery_seconds_p99,
        delivery_seconds_mean,
        delivery_seconds_max,
        messages_final_timed,
        final_quantiles[1] as final_seconds_p50,
        final_quantiles[2] as final_seconds_p90,
        final_quantiles[3] as final_seconds_p99

    from aggregated

)

select * from final

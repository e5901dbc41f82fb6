-- one row per sender
-- Delivery by sender signature (the message's sender, else its campaign's). Ratios NULL on zero denominators.
with

messages as (

    select * from int_messages

),

aggregated as (

    select
        sender,
        count(distinct campaign_id) as campaigns_total,
        count(*) as messages_total,
        count_if(status_group = 'pending') as pending,
        count_if(status_group = 'partially_delivered') as partially_delivered,
        count_if(is_delivered) as delivered,
        count_if(is_failed) as failed,
        count_if(status_group = 'unknown') as unknown,
        quantile_cont(delivery_seconds, 0.5) as delivery_seconds_p50

    from messages
    group by sender

),

final as (

    select
        sender,
        cast(campaigns_total as bigint) as campaigns_total,
        cast(messages_total as bigint) as messages_total,
        cast(pending as bigint) as pending,
        cast(partially_delivered as bigint) as partially_delivered,
        cast(delivered as bigint) as delivered,
        cast(failed as bigint) as failed,
        cast(unknown as bigint) as unknown,
        delivered / nullif(messages_total, 0) as delivery_rate,
        delivered / nullif(delivered + failed, 0) as settled_delivery_rate,
        delivery_seconds_p50

    from aggregated

)

select * from final

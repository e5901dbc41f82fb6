-- one row per message
-- Adds the metric status group and the latencies (seconds from send start to status update).
with

messages as (

    select * from stg_messages

),

campaigns as (

    select * from stg_campaigns

),

final as (

    select
        messages.message_id,
        messages.campaign_id,
        coalesce(messages.sender, campaigns.sender) as sender,
        messages.country_a2,
        messages.operator_name,
        messages.segments,
        -- segNum x segUserBuy; the stored cost only when the price is missing
        cast(coalesce(messages.segments * messages.segment_price, messages.cost, 0) as decimal(18, 4)) as cost,
        messages.status,
        messages.status_raw,
        messages.is_unexpected,
        case
            when messages.status in ('NEW', 'ENQUEUD', 'ACCEPTD') then 'pending'
            when messages.status = 'PDLIVRD' then 'partially_delivered'
            when messages.status = 'DELIVRD' then 'delivered'
            when messages.status = 'UNDELIV' then 'undelivered'
            when messages.status = 'REJECTD' then 'rejected'
            when messages.status = 'EXPIRED' then 'expired'
            when messages.status = 'DELETED' then 'deleted'
            else 'unknown'
        end as status_group,
        messages.status = 'DELIVRD' as is_delivered,
        -- is_final comes from the glossary's final statuses (smsapi/glossary.py), set when the row was typed
        coalesce(messages.is_final, false) and messages.status <> 'DELIVRD' as is_failed,
        coalesce(messages.is_final, false) as is_final_status,
        messages.send_started_at,
        messages.status_updated_at,
        messages.status_updated_day_utc,
        case
            when messages.status = 'DELIVRD'
                then epoch(messages.status_updated_at) - epoch(messages.send_started_at)
        end as delivery_seconds,
        case
            when messages.is_final
                then epoch(messages.status_updated_at) - epoch(messages.send_started_at)
        end as final_seconds

    from messages
    left join campaigns
        on messages.campaign_id = campaigns.campaign_id

)

select * from final

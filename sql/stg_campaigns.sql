-- one row per campaign
-- The campaign as last observed; timestamps stay TIMESTAMPTZ (UTC).
with

source as (

    select * from campaigns

),

final as (

    select
        campaign_id,
        campaign_type,
        type_code,
        name as campaign_name,
        sender,
        common_status,
        moderation_status,
        send_status,
        coalesce(is_deleted, false) as is_deleted,
        track_short_link_recipients,
        validity_minutes,
        created_at,
        send_started_at,
        send_ended_at,
        deferred_to,
        counters_updated_at,
        total_msg_count,
        total_seg_count,
        total_cost,
        currency,
        observed_at

    from source

)

select * from final

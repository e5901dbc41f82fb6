-- one row per campaign
-- The warehouse's message counts per status (from messages) beside the gateway's own counters
-- (campaign_counters.msg_count, from Campaign/GetInfo). difference = warehouse - gateway.
-- total_gateway is the campaign's totalMsgNum, else the sum of its counters. Gateway columns are NULL
-- for a campaign without counters; is_consistent is true only when counters exist and every count matches.
-- is_counters_lagging: the counters were updated (counters.updateTs) before the campaign's newest status
-- change, so a difference may only be the gateway not having counted that change yet.
with

campaigns as (

    select * from stg_campaigns

),

warehouse as (

    select * from int_campaign_status_counts

),

message_updates as (

    select campaign_id, max(status_updated_at) as messages_updated_at
    from stg_messages
    group by campaign_id

),

gateway as (

    select
        campaign_id,
        sum(msg_count) filter (where status = 'NEW') as new,
        sum(msg_count) filter (where status = 'ENQUEUD') as enqueud,
        sum(msg_count) filter (where status = 'ACCEPTD') as acceptd,
        sum(msg_count) filter (where status = 'PDLIVRD') as pdlivrd,
        sum(msg_count) filter (where status = 'DELIVRD') as delivrd,
        sum(msg_count) filter (where status = 'UNDELIV') as undeliv,
        sum(msg_count) filter (where status = 'REJECTD') as rejectd,
        sum(msg_count) filter (where status = 'EXPIRED') as expired,
        sum(msg_count) filter (where status = 'DELETED') as deleted,
        sum(msg_count) filter (where status = 'UNKNOWN') as unknown,
        sum(msg_count) as counters_total,
        max(observed_at) as counters_observed_at

    from stg_campaign_counters
    where try_cast(status as message_status) is not null  -- the warehouse's status ENUM: the glossary and UNKNOWN
    group by campaign_id

),

spine as (

    select campaign_id from campaigns
    union
    select campaign_id from warehouse where campaign_id is not null
    union
    select campaign_id from gateway

),

joined as (

    select
        spine.campaign_id,
        gateway.campaign_id is not null as has_gateway_counters,
        gateway.counters_observed_at,
        campaigns.counters_updated_at,
        message_updates.messages_updated_at,
        coalesce(warehouse.status_new, 0) as new_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.new, 0) end as new_gateway,
        coalesce(warehouse.status_enqueud, 0) as enqueud_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.enqueud, 0) end as enqueud_gateway,
        coalesce(warehouse.status_acceptd, 0) as acceptd_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.acceptd, 0) end as acceptd_gateway,
        coalesce(warehouse.status_pdlivrd, 0) as pdlivrd_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.pdlivrd, 0) end as pdlivrd_gateway,
        coalesce(warehouse.status_delivrd, 0) as delivrd_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.delivrd, 0) end as delivrd_gateway,
        coalesce(warehouse.status_undeliv, 0) as undeliv_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.undeliv, 0) end as undeliv_gateway,
        coalesce(warehouse.status_rejectd, 0) as rejectd_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.rejectd, 0) end as rejectd_gateway,
        coalesce(warehouse.status_expired, 0) as expired_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.expired, 0) end as expired_gateway,
        coalesce(warehouse.status_deleted, 0) as deleted_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.deleted, 0) end as deleted_gateway,
        coalesce(warehouse.status_unknown, 0) as unknown_warehouse,
        case when gateway.campaign_id is not null then coalesce(gateway.unknown, 0) end as unknown_gateway,
        coalesce(warehouse.messages_total, 0) as total_warehouse,
        case
            when gateway.campaign_id is not null or campaigns.total_msg_count is not null
                then coalesce(campaigns.total_msg_count, gateway.counters_total)
        end as total_gateway

    from spine
    left join campaigns
        on spine.campaign_id = campaigns.campaign_id
    left join warehouse
        on spine.campaign_id = warehouse.campaign_id
    left join gateway
        on spine.campaign_id = gateway.campaign_id
    left join message_updates
        on spine.campaign_id = message_updates.campaign_id

),

final as (

    select
        campaign_id,
        has_gateway_counters,
        counters_observed_at,
        counters_updated_at,
        messages_updated_at,
        coalesce(counters_updated_at < messages_updated_at, false) as is_counters_lagging,
        cast(new_warehouse as bigint) as new_warehouse,
        cast(new_gateway as bigint) as new_gateway,
        cast(new_warehouse - new_gateway as bigint) as new_difference,
        cast(enqueud_warehouse as bigint) as enqueud_warehouse,
        cast(enqueud_gateway as bigint) as enqueud_gateway,
        cast(enqueud_warehouse - enqueud_gateway as bigint) as enqueud_difference,
        cast(acceptd_warehouse as bigint) as acceptd_warehouse,
        cast(acceptd_gateway as bigint) as acceptd_gateway,
        cast(acceptd_warehouse - acceptd_gateway as bigint) as acceptd_difference,
        cast(pdlivrd_warehouse as bigint) as pdlivrd_warehouse,
        cast(pdlivrd_gateway as bigint) as pdlivrd_gateway,
        cast(pdlivrd_warehouse - pdlivrd_gateway as bigint) as pdlivrd_difference,
        cast(delivrd_warehouse as bigint) as delivrd_warehouse,
        cast(delivrd_gateway as bigint) as delivrd_gateway,
        cast(delivrd_warehouse - delivrd_gateway as bigint) as delivrd_difference,
        cast(undeliv_warehouse as bigint) as undeliv_warehouse,
        cast(undeliv_gateway as bigint) as undeliv_gateway,
        cast(undeliv_warehouse - undeliv_gateway as bigint) as undeliv_difference,
        cast(rejectd_warehouse as bigint) as rejectd_warehouse,
        cast(rejectd_gateway as bigint) as rejectd_gateway,
        cast(rejectd_warehouse - rejectd_gateway as bigint) as rejectd_difference,
        cast(expired_warehouse as bigint) as expired_warehouse,
        cast(expired_gateway as bigint) as expired_gateway,
        cast(expired_warehouse - expired_gateway as bigint) as expired_difference,
        cast(deleted_warehouse as bigint) as deleted_warehouse,
        cast(deleted_gateway as bigint) as deleted_gateway,
        cast(deleted_warehouse - deleted_gateway as bigint) as deleted_difference,
        cast(unknown_warehouse as bigint) as unknown_warehouse,
        cast(unknown_gateway as bigint) as unknown_gateway,
        cast(unknown_warehouse - unknown_gateway as bigint) as unknown_difference,
        cast(total_warehouse as bigint) as total_warehouse,
        cast(total_gateway as bigint) as total_gateway,
        cast(total_warehouse - total_gateway as bigint) as total_difference,
        coalesce(
            has_gateway_counters
            and new_warehouse = new_gateway
            and enqueud_warehouse = enqueud_gateway
            and acceptd_warehouse = acceptd_gateway
            and pdlivrd_warehouse = pdlivrd_gateway
            and delivrd_warehouse = delivrd_gateway
            and undeliv_warehouse = undeliv_gateway
            and rejectd_warehouse = rejectd_gateway
            and expired_warehouse = expired_gateway
            and deleted_warehouse = deleted_gateway
            and unknown_warehouse = unknown_gateway
            and total_warehouse = total_gateway,
            false
        ) as is_consistent

    from joined

)

select * from final

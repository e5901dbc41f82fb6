-- one row per campaign
-- The contract of issue 4: column names and definitions are fixed; the README lists each formula.
-- Every ratio is NULL when its denominator is 0; the eight status counts sum to messages_total.
with

campaigns as (

    select * from stg_campaigns

),

status_counts as (

    select * from int_campaign_status_counts

),

latency as (

    select * from int_campaign_latency

),

clicks as (

    select * from int_campaign_clicks

),

-- campaigns known from either the campaign list or their messages
spine as (

    select campaign_id from campaigns
    union
    select campaign_id from status_counts where campaign_id is not null

),

counts as (

    select
        spine.campaign_id,
        campaigns.campaign_type,
        campaigns.sender,
        campaigns.created_at,
        campaigns.send_started_at,
        coalesce(status_counts.messages_total, 0) as messages_total,
        coalesce(status_counts.segments_total, 0) as segments_total,
        coalesce(status_counts.cost_total, 0) as cost_total,
        coalesce(status_counts.status_new + status_counts.status_enqueud + status_counts.status_acceptd, 0)
            as pending,
        coalesce(status_counts.status_pdlivrd, 0) as partially_delivered,
        coalesce(status_counts.status_delivrd, 0) as delivered,
        coalesce(status_counts.status_undeliv, 0) as undelivered,
        coalesce(status_counts.status_rejectd, 0) as rejected,
        coalesce(status_counts.status_expired, 0) as expired,
        coalesce(status_counts.status_deleted, 0) as deleted,
        coalesce(status_counts.status_unknown, 0) as unknown,
        coalesce(clicks.clicks, 0) as clicks,
        latency.delivery_seconds_p50,
        latency.delivery_seconds_p90

    from spine
    left join campaigns
        on spine.campaign_id = campaigns.campaign_id
    left join status_counts
        on spine.campaign_id = status_counts.campaign_id
    left join latency
        on spine.campaign_id = latency.campaign_id
    left join clicks
        on spine.campaign_id = clicks.campaign_id

),

final as (

    select
        campaign_id,
        campaign_type,
        sender,
        created_at,
        send_started_at,
        cast(messages_total as bigint) as messages_total,
        cast(segments_total as bigint) as segments_total,
        cast(cost_total as decimal(18, 4)) as cost_total,
        cast(pending as bigint) as pending,
        cast(partially_delivered as bigint) as partially_delivered,
        cast(delivered as bigint) as delivered,
        cast(undelivered as bigint) as undelivered,
        cast(rejected as bigint) as rejected,
        cast(expired as bigint) as expired,
        cast(deleted as bigint) as deleted,
        cast(unknown as bigint) as unknown,
        delivered / nullif(messages_total, 0) as delivery_rate,
        delivered / nullif(delivered + undelivered + rejected + expired + deleted, 0) as settled_delivery_rate,
        cast(clicks as bigint) as clicks,
        clicks / nullif(delivered, 0) as click_through_rate,
        -- no per-recipient click data in the public API: unknown, not zero
        cast(null as bigint) as unique_clickers,
        cast(null as double) as unique_click_rate,
        delivery_seconds_p50,
        delivery_seconds_p90,
        cast(cost_total as double) / nullif(delivered, 0) as cost_per_delivered,
        pending + partially_delivered = 0 as is_settled

    from counts

)

select * from final

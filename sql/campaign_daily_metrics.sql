-- one row per campaign per day (UTC)
-- Days are calendar days in UTC: of the message's status update, and of the click bucket's start.
with

messages as (

    select * from int_messages

),

links as (

    select * from stg_links

),

link_daily_clicks as (

    select * from int_link_daily_clicks

),

status_updates as (

    select
        campaign_id,
        status_updated_day_utc as day_utc,
        count(*) as status_updates,
        count_if(is_delivered) as deliveries,
        count_if(status = 'PDLIVRD') as partial_deliveries,
        count_if(is_failed) as failures

    from messages
    where campaign_id is not null
        and status_updated_day_utc is not null
    group by campaign_id, status_updated_day_utc

),

clicks as (

    select
        links.campaign_id,
        link_daily_clicks.day_utc,
        sum(link_daily_clicks.clicks) as clicks

    from link_daily_clicks
    inner join links
        on link_daily_clicks.link_id = links.link_id
    where links.campaign_id is not null
    group by links.campaign_id, link_daily_clicks.day_utc

),

spine as (

    select campaign_id, day_utc from status_updates
    union
    select campaign_id, day_utc from clicks

),

final as (

    select
        spine.campaign_id,
        spine.day_utc,
        cast(coalesce(status_updates.status_updates, 0) as bigint) as status_updates,
        cast(coalesce(status_updates.deliveries, 0) as bigint) as deliveries,
        cast(coalesce(status_updates.partial_deliveries, 0) as bigint) as partial_deliveries,
        cast(coalesce(status_updates.failures, 0) as bigint) as failures,
        cast(coalesce(clicks.clicks, 0) as bigint) as clicks,
        status_updates.deliveries
            / nullif(status_updates.deliveries + status_updates.failures, 0) as settled_delivery_rate

    from spine
    left join status_updates
        on spine.campaign_id = status_updates.campaign_id
        and spine.day_utc = status_updates.day_utc
    left join clicks
        on spine.campaign_id = clicks.campaign_id
        and spine.day_utc = clicks.day_utc

)

select * from final

-- one row per campaign per counter status
-- The gateway's own counters (Campaign/GetInfo); status upper-cased so it matches message statuses.
with

source as (

    select * from campaign_counters

),

final as (

    select
        campaign_id,
        upper(trim(status)) as status,
        coalesce(msg_count, 0) as msg_count,
        coalesce(seg_count, 0) as seg_count,
        coalesce(cost, 0) as cost,
        observed_at

    from source

)

select * from final

-- one row per link per period type per period start
-- period_end is the exclusive end of the bucket as the sync computed it in the account's zone (a local day
-- of a DST shift lasts 23 or 25 hours); for rows without one, a minute, hour, day or month after period_start
-- on UTC wall time, so it does not depend on the session's TimeZone.
with

source as (

    select * from link_click_stats

),

final as (

    select
        link_id,
        lower(period_type) as period_type,
        period_start,
        coalesce(period_end, timezone('UTC', timezone('UTC', period_start) + case lower(period_type)
            when 'minute' then interval 1 minute
            when 'hourly' then interval 1 hour
            when 'daily' then interval 1 day
            when 'monthly' then interval 1 month
        end)) as period_end,
        coalesce(click_count, 0) as click_count,
        coalesce(redirect_count, 0) as redirect_count,
        observed_at

    from source

)

select * from final

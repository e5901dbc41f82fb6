-- one row per link per day (UTC) with clicks
-- Hourly buckets give their clicks to the UTC day they start on. Daily buckets (account-local days) give
-- only the clicks their hourly buckets do not already account for (daily clicks minus the link's hourly
-- clicks inside the same day bucket, never below 0) to the UTC day they start on. So the hourly detail of the
-- last week and the daily history of 90 days add up without counting a click twice.
with

stats as (

    select * from stg_link_click_stats

),

hourly as (

    select * from stats
    where period_type = 'hourly'

),

daily as (

    select * from stats
    where period_type = 'daily'

),

daily_residual as (

    select
        daily.link_id,
        daily.period_start,
        greatest(daily.click_count - coalesce(sum(hourly.click_count), 0), 0) as clicks

    from daily
    left join hourly
        on daily.link_id = hourly.link_id
        and hourly.period_start >= daily.period_start
        and hourly.period_start < daily.period_end
    group by daily.link_id, daily.period_start, daily.click_count

),

buckets as (

    select link_id, period_start, click_count as clicks from hourly
    union all
    select link_id, period_start, clicks from daily_residual

),

final as (

    select
        link_id,
        cast(timezone('UTC', period_start) as date) as day_utc,
        cast(sum(clicks) as bigint) as clicks

    from buckets
    group by link_id, cast(timezone('UTC', period_start) as date)
    having sum(clicks) > 0

)

select * from final

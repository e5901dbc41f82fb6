-- one row per link per day (UTC) with click stats
-- A day's clicks come from the link's hourly buckets that start on that UTC day when it has any,
-- otherwise from its daily buckets that start on that UTC day (daily buckets are account-local days,
-- so they are attributed to the UTC day on which they start).
with

stats as (

    select
        *,
        cast(timezone('UTC', period_start) as date) as day_utc
    from stg_link_click_stats
    where period_type in ('hourly', 'daily')

),

by_type as (

    select
        link_id,
        day_utc,
        period_type,
        sum(click_count) as clicks
    from stats
    group by link_id, day_utc, period_type

),

ranked as (

    select
        *,
        row_number() over (
            partition by link_id, day_utc
            order by case period_type when 'hourly' then 1 else 2 end
        ) as type_rank
    from by_type

),

final as (

    select
        link_id,
        day_utc,
        cast(clicks as bigint) as clicks,
        period_type as source_period_type

    from ranked
    where type_rank = 1

)

select * from final

-- one row per short link
-- Clicks over the glossary's windows (last 2 hours, day, week, 30 days, all time) as of the last sync
-- (int_sync_as_of: as_of of the last successful sync run, else the latest link_click_stats observation).
-- Each window sums the buckets of the finest period type whose maximum range covers it:
--   last 2 hours -> minute (3 h), last day and last week -> hourly (1 week), last 30 days -> daily (90 days);
-- when the warehouse holds no rows of that type, the next coarser type that does (hourly, daily, monthly).
-- A bucket counts when it overlaps the window: period_end > as_of - window and period_start < as_of.
-- A window is NULL when the warehouse holds no stats of any type that can serve it.
-- All time is the link's own click counter (links.click_count).
with

links as (

    select * from stg_links

),

stats as (

    select * from stg_link_click_stats

),

as_of as (

    select * from int_sync_as_of

),

windows (window_name, window_length) as (

    values
        ('last_2_hours', interval 2 hour),
        ('last_day', interval 1 day),
        ('last_week', interval 7 day),
        ('last_30_days', interval 30 day)

),

window_candidates (window_name, period_type, preference) as (

    values
        ('last_2_hours', 'minute', 1),
        ('last_2_hours', 'hourly', 2),
        ('last_2_hours', 'daily', 3),
        ('last_2_hours', 'monthly', 4),
        ('last_day', 'hourly', 1),
        ('last_day', 'daily', 2),
        ('last_day', 'monthly', 3),
        ('last_week', 'hourly', 1),
        ('last_week', 'daily', 2),
        ('last_week', 'monthly', 3),
        ('last_30_days', 'daily', 1),
        ('last_30_days', 'monthly', 2)

),

available_types as (

    select distinct period_type from stats

),

window_types as (

    select
        windows.window_name,
        windows.window_length,
        arg_min(window_candidates.period_type, window_candidates.preference) as period_type

    from windows
    inner join window_candidates
        on windows.window_name = window_candidates.window_name
    inner join available_types
        on window_candidates.period_type = available_types.period_type
    group by windows.window_name, windows.window_length

),

window_clicks as (

    select
        stats.link_id,
        window_types.window_name,
        sum(stats.click_count) as clicks

    from stats
    inner join window_types
        on stats.period_type = window_types.period_type
    cross join as_of
    where stats.period_end > as_of.as_of - window_types.window_length
        and stats.period_start < as_of.as_of
    group by stats.link_id, window_types.window_name

),

spine as (

    select link_id from links
    union
    select link_id from stats

),

served as (

    select
        bool_or(window_name = 'last_2_hours') as has_last_2_hours,
        bool_or(window_name = 'last_day') as has_last_day,
        bool_or(window_name = 'last_week') as has_last_week,
        bool_or(window_name = 'last_30_days') as has_last_30_days
    from window_types

),

pivoted as (

    select
        link_id,
        sum(clicks) filter (where window_name = 'last_2_hours') as clicks_last_2_hours,
        sum(clicks) filter (where window_name = 'last_day') as clicks_last_day,
        sum(clicks) filter (where window_name = 'last_week') as clicks_last_week,
        sum(clicks) filter (where window_name = 'last_30_days') as clicks_last_30_days
    from window_clicks
    group by link_id

),

final as (

    select
        spine.link_id,
        links.campaign_id,
        links.short_link,
        links.full_link,
        as_of.as_of,
        case when served.has_last_2_hours then cast(coalesce(pivoted.clicks_last_2_hours, 0) as bigint) end
            as clicks_last_2_hours,
        case when served.has_last_day then cast(coalesce(pivoted.clicks_last_day, 0) as bigint) end
            as clicks_last_day,
        case when served.has_last_week then cast(coalesce(pivoted.clicks_last_week, 0) as bigint) end
            as clicks_last_week,
        case when served.has_last_30_days then cast(coalesce(pivoted.clicks_last_30_days, 0) as bigint) end
            as clicks_last_30_days,
        links.click_count as clicks_all_time,
        links.redirect_count as redirects_all_time

    from spine
    left join links
        on spine.link_id = links.link_id
    left join pivoted
        on spine.link_id = pivoted.link_id
    cross join as_of
    cross join served

)

select * from final

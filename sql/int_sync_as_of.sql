-- one row: the instant the warehouse's click data is "as of"
-- The end of the last successful sync run; without one, the latest observation of link click stats.
with

runs as (

    select max(ended_at) as as_of
    from stg_sync_runs
    where is_successful

),

stats as (

    select max(observed_at) as as_of
    from stg_link_click_stats

),

final as (

    select
        coalesce(runs.as_of, stats.as_of) as as_of,
        case
            when runs.as_of is not null then 'sync_runs'
            when stats.as_of is not null then 'link_click_stats'
        end as as_of_source

    from runs
    cross join stats

)

select * from final

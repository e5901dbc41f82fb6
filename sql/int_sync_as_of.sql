-- one row: the instant the warehouse's click data is "as of"
-- "As of the last sync": the as_of clock of the latest successful sync run (its ended_at when as_of is
-- NULL); without a successful run, the latest observation of link click stats.
with

runs as (

    select arg_max(coalesce(as_of, ended_at), coalesce(ended_at, as_of)) as as_of
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

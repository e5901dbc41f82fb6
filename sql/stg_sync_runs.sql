-- one row per sync run
-- is_successful: outcome is one of success, succeeded, completed, complete, ok (case-insensitive).
-- as_of: the clock the run's windows used: the gateway's, from its responses' Date header.
with

source as (

    select * from sync_runs

),

final as (

    select
        run_id,
        as_of,
        started_at,
        ended_at,
        outcome,
        coalesce(lower(outcome) in ('success', 'succeeded', 'completed', 'complete', 'ok'), false) as is_successful,
        api_calls

    from source

)

select * from final

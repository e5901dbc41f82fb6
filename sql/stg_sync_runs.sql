-- one row per sync run
-- is_successful: outcome = 'success', as the sync records it (transforms/schema.py RUN_SUCCEEDED).
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
        coalesce(outcome = 'success', false) as is_successful,
        api_calls

    from source

)

select * from final

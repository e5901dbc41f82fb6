-- one row per sync run
-- is_successful: outcome is one of success, succeeded, completed, ok (case-insensitive).
with

source as (

    select * from sync_runs

),

final as (

    select
        run_id,
        started_at,
        ended_at,
        outcome,
        coalesce(lower(outcome) in ('success', 'succeeded', 'completed', 'ok'), false) as is_successful,
        api_calls

    from source

)

select * from final

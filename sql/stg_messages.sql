-- one row per message
-- The message's latest status. status is VARCHAR here; a NULL status is treated as 'UNKNOWN'.
with

source as (

    select * from messages

),

final as (

    select
        message_id,
        campaign_id,
        sender,
        recipient,  -- under SMS_PII: 'h:' + 24 hex digits (hash), as sent (keep) or NULL (drop); no metric reads it
        coalesce(segments, 0) as segments,
        segment_price,
        cost,
        coalesce(cast(status as varchar), 'UNKNOWN') as status,
        status_raw,
        is_final,
        coalesce(is_unexpected, false) as is_unexpected,
        send_started_at,
        status_updated_at,
        -- the calendar day in UTC, independent of the session's TimeZone setting
        cast(timezone('UTC', status_updated_at) as date) as status_updated_day_utc,
        nullif(trim(country_a2), '') as country_a2,
        nullif(trim(operator_name), '') as operator_name,
        first_observed_at,
        observed_at

    from source

)

select * from final

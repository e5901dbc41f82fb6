-- one row per campaign with at least one message
-- Time to deliver: DELIVRD messages; time to final: messages in a final status (DELIVRD, UNDELIV, REJECTD,
-- EXPIRED, DELETED). Both are status_updated_at - send_started_at in seconds, quantile_cont.
with

campaigns as (

    select * from stg_campaigns

),

latency as (

    select * from int_campaign_latency

),

final as (

    select
        latency.campaign_id,
        campaigns.campaign_type,
        campaigns.sender,
        latency.messages_delivered_timed,
        latency.delivery_seconds_p50,
        latency.delivery_seconds_p90,
        latency.delivery_seconds_p99,
        latency.delivery_seconds_mean,
        latency.delivery_seconds_max,
        latency.messages_final_timed,
        latency.final_seconds_p50,
        latency.final_seconds_p90,
        latency.final_seconds_p99

    from latency
    left join campaigns
        on latency.campaign_id = campaigns.campaign_id

)

select * from final

-- one row per campaign with at least one message
-- Counts per stored status; the ten counts sum to messages_total.
with

messages as (

    select * from int_messages

),

final as (

    select
        campaign_id,
        count(*) as messages_total,
        cast(coalesce(sum(segments), 0) as bigint) as segments_total,
        cast(coalesce(sum(cost), 0) as decimal(18, 4)) as cost_total,
        count_if(status = 'NEW') as status_new,
        count_if(status = 'ENQUEUD') as status_enqueud,
        count_if(status = 'ACCEPTD') as status_acceptd,
        count_if(status = 'PDLIVRD') as status_pdlivrd,
        count_if(status = 'DELIVRD') as status_delivrd,
        count_if(status = 'UNDELIV') as status_undeliv,
        count_if(status = 'REJECTD') as status_rejectd,
        count_if(status = 'EXPIRED') as status_expired,
        count_if(status = 'DELETED') as status_deleted,
        count_if(status_group = 'unknown') as status_unknown

    from messages
    group by campaign_id

)

select * from final

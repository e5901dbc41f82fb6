-- one row per campaign with at least one short link
with

links as (

    select * from stg_links

),

final as (

    select
        campaign_id,
        count(*) as links_total,
        cast(sum(click_count) as bigint) as clicks,
        cast(sum(redirect_count) as bigint) as redirects

    from links
    where campaign_id is not null
    group by campaign_id

)

select * from final

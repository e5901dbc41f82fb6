-- one row per short link
with

source as (

    select * from links

),

final as (

    select
        link_id,
        campaign_id,
        code,
        short_link,
        full_link,
        comment,
        status as link_status,
        coalesce(click_count, 0) as click_count,
        coalesce(redirect_count, 0) as redirect_count,
        observed_at

    from source

)

select * from final

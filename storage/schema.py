"""The warehouse's base tables: one DDL statement per table, the single source of their columns.

`docs/design.md` describes each table's grain. Views in `sql/` build on these tables only.
"""

from transforms import MESSAGE_STATUSES  # the glossary's statuses, in one place

ENUM_DDL = "create type message_status as enum (" + ", ".join(f"'{s}'" for s in MESSAGE_STATUSES) + ")"

TABLES: dict[str, str] = {
    "campaigns": """
        campaign_id bigint primary key,
        campaign_type varchar,
        type_code integer,
        name varchar,
        sender varchar,
        text varchar,
        common_status varchar,
        moderation_status varchar,
        send_status varchar,
        creation_way integer,
        is_deleted boolean,
        track_short_link_recipients boolean,
        validity_minutes integer,
        created_at timestamptz,
        send_started_at timestamptz,
        send_ended_at timestamptz,
        deferred_to timestamptz,
        counters_updated_at timestamptz,
        total_msg_count bigint,
        total_seg_count bigint,
        total_cost decimal(18, 4),
        currency varchar,
        observed_at timestamptz
    """,
    "campaign_counters": """
        campaign_id bigint,
        status varchar,
        msg_count bigint,
        seg_count bigint,
        cost decimal(18, 4),
        observed_at timestamptz,
        primary key (campaign_id, status)
    """,
    "messages": """
        message_id bigint primary key,
        campaign_id bigint,
        sender varchar,
        recipient varchar,
        text varchar,
        segments integer,
        segment_price decimal(18, 4),
        cost decimal(18, 4),
        status message_status,
        status_raw varchar,
        is_final boolean,
        is_unexpected boolean,
        send_started_at timestamptz,
        status_updated_at timestamptz,
        country_a2 varchar,
        operator_name varchar,
        uuid varchar,
        first_observed_at timestamptz,
        observed_at timestamptz
    """,
    "message_status_history": """
        message_id bigint,
        campaign_id bigint,
        status message_status,
        status_raw varchar,
        is_final boolean,
        status_updated_at timestamptz,
        observed_at timestamptz,
        run_id varchar,
        primary key (message_id, status_raw, status_updated_at)
    """,
    "links": """
        link_id bigint primary key,
        campaign_id bigint,
        code varchar,
        short_link varchar,
        full_link varchar,
        comment varchar,
        status integer,
        click_count bigint,
        redirect_count bigint,
        observed_at timestamptz
    """,
    "link_click_stats": """
        link_id bigint,
        period_type varchar,
        period_start timestamptz,
        period_end timestamptz,
        click_count bigint,
        redirect_count bigint,
        observed_at timestamptz,
        primary key (link_id, period_type, period_start)
    """,
    "sync_runs": """
        run_id varchar primary key,
        as_of timestamptz,
        started_at timestamptz,
        ended_at timestamptz,
        outcome varchar,
        api_calls bigint,
        summary json
    """,
    "sync_run_entities": """
        run_id varchar,
        entity varchar,
        rows_added bigint,
        rows_changed bigint,
        unexpected_values bigint,
        primary key (run_id, entity)
    """,
    "sync_watermarks": """
        name varchar primary key,
        value varchar,
        run_id varchar
    """,
}


def create_tables(con) -> None:
    """Create the enum and every base table, empty, on a DuckDB connection."""
    con.execute(ENUM_DDL)
    for name, columns in TABLES.items():
        con.execute(f"create table {name} ({columns})")

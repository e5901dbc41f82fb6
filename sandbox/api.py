"""The gateway's methods over a :class:`World`: params in, ``(code, data, message)`` out.

Pure of HTTP: the server decodes params (PHP bracket notation) and encodes the envelope. ``data`` may hold
:class:`Raw` fragments (pre-rendered JSON, cached per campaign and clock state), spliced in by :func:`dumps`.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np

from .data import (
    CAMPAIGN_ID_BASE,
    INF,
    LINK_DOMAIN,
    LINK_ID_BASE,
    MESSAGE_ID_BASE,
    ST,
    STATUSES,
    World,
    money,
)

DAY = 86400
MAX_WINDOW = 90 * DAY
PAGE_SIZES = (25, 50, 100)
USER_ID = "1102938"
PARTNER_ID = "8"
STATS_RANGE = {"minute": 3 * 3600, "hourly": 7 * DAY, "daily": 90 * DAY, "monthly": 3 * 365 * DAY}
# counter key order as in the reference's captured response (F1)
COUNTER_ORDER = ["NEW", "ENQUEUD", "ACCEPTD", "DELIVRD", "REJECTD", "EXPIRED", "UNDELIV", "DELETED", "UNKNOWN",
                 "PDLIVRD"]

MSG_NOT_FOUND = "Запись не найдена или у вас нет прав доступа к ней."
MSG_BAD_PARAM = "Параметр(ы) {} не верны для данного модуля и метода. Проверьте правильность указанных " \
                "параметров и сведения в документации."
MSG_VALIDATION = "Одно или несколько полей содержат неверные данные. Проверьте ошибки и повторите попытку."


class ApiError(Exception):
    def __init__(self, code: int, message: str = "", data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


class Raw:
    """A pre-rendered JSON fragment, spliced in as is by :func:`dumps`."""

    __slots__ = ("json",)

    def __init__(self, json_text: str):
        self.json = json_text


# A fragment's place holder carries a nonce drawn per call: a string in the data (a message's text, say) cannot
# guess it, so it is never taken for a place holder and spliced.
_RAW_MARK = re.compile(r'"@@RAW([0-9a-f]{16}):(\d+)@@"')


def dumps(envelope: dict) -> bytes:
    raws: list[str] = []
    nonce = secrets.token_hex(8)

    def default(o):
        # json's encoder calls this only for what it cannot encode itself, so finding the Raws needs no walk of
        # every value of the envelope (some 3,000 on a Message/List page) before encoding it
        if isinstance(o, Raw):
            raws.append(o.json)
            return f"@@RAW{nonce}:{len(raws) - 1}@@"
        if isinstance(o, np.integer):
            return int(o)
        raise TypeError(type(o))

    s = json.dumps(envelope, default=default, separators=(",", ":"))
    if raws:
        s = _RAW_MARK.sub(lambda m: raws[int(m.group(2))] if m.group(1) == nonce else m.group(0), s)
    return s.encode()


# ------------------------------------------------------------------ params
def parse_params(pairs) -> dict:
    """PHP ``$_REQUEST``-style nesting: ``a[b][0]=x``, ``a[]=y``; later pairs win."""
    root: dict = {}
    for k, v in pairs:
        m = re.match(r"^([^\[\]]+)((?:\[[^\]]*\])*)$", k)
        if not m:
            root[k] = v
            continue
        segs = re.findall(r"\[([^\]]*)\]", m.group(2))
        cur, key = root, m.group(1)
        for s in segs:
            nxt = cur.get(key)
            if not isinstance(nxt, dict):
                nxt = cur[key] = {}
            cur = nxt
            key = s if s != "" else str(len(cur))
        cur[key] = v
    return root


def as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (0, int(k)) if str(k).isdigit() else (1, str(k)))
        return [v[k] for k in keys]
    if isinstance(v, list):
        return v
    if isinstance(v, (int, float)):
        return [str(v)]
    return [x.strip() for x in re.split(r"[,\n]", str(v)) if x.strip()]


def as_dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def to_int(v, name: str) -> int:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        raise ApiError(12, f"Параметр {name} имеет неверное значение.")


def id_list(v, name: str, limit: int = 100) -> list[int]:
    ids = [to_int(x, name) for x in as_list(v)]
    if len(ids) > limit:
        raise ApiError(12, f"Превышено максимальное количество элементов в {name}: {limit}.")
    return ids


def ts_param(sb: World, v, name: str) -> int | None:
    if v in (None, ""):
        return None
    try:
        return sb.parse(str(v))
    except ValueError:
        raise ApiError(12, f"Параметр {name} имеет неверный формат даты.")


def window(sb: World, crit: dict, frm: str, to: str) -> tuple[int, int] | None:
    """A date pair from criteria, clamped silently to 90 days (a missing bound is set 90 days away)."""
    lo, hi = ts_param(sb, crit.get(frm), frm), ts_param(sb, crit.get(to), to)
    if lo is None and hi is None:
        return None
    if lo is None:
        lo = hi - MAX_WINDOW
    if hi is None or hi - lo > MAX_WINDOW:
        hi = lo + MAX_WINDOW
    return lo, hi


def pagination(p: dict) -> tuple[int, int]:
    pg = as_dict(p.get("pagination"))
    size = to_int(pg.get("pageSize", 25), "pagination[pageSize]")
    if size not in PAGE_SIZES:
        raise ApiError(12, "Параметр pagination[pageSize] может принимать значения 25, 50 или 100.")
    page = to_int(pg.get("currentPage", 0), "pagination[currentPage]")
    if page < 0:
        raise ApiError(12, "Параметр pagination[currentPage] не может быть отрицательным.")
    return size, page


def sort_spec(p: dict, allowed: set[str]) -> tuple[str, bool]:
    s = as_dict(p.get("sort"))
    for k, v in s.items():
        if k in allowed:
            return k, str(v).upper() == "DESC"
    return "id", False


def s(v) -> str | None:
    return None if v is None else str(v)


# ------------------------------------------------------------------ renderers
def counters_obj(sb: World, ci: int) -> dict:
    cnt = sb.counters(ci)
    out: dict = {"campaignId": str(CAMPAIGN_ID_BASE + ci), "updateTs": sb.fmt(cnt["update"])}

    def get(kind, status):
        return 0 if status == "UNKNOWN" else cnt[kind][ST[status]]
    for kind, label in (("seg", "SegNum"), ("msg", "MsgNum")):
        for status in COUNTER_ORDER:
            out[f"total{status.capitalize()}{label}"] = str(get(kind, status))
        out[f"total{label}"] = str(sum(cnt[kind]))
    total_cost = sum(cnt["cost"])
    out["totalCost"] = money(total_cost)
    out["totalPartnerCost"] = money(total_cost * 8 // 10)
    for status in COUNTER_ORDER:
        out[f"total{status.capitalize()}MsgCost"] = money(get("cost", status))
    out["partnerCurrency"] = sb.currency
    out["userCurrency"] = sb.currency
    out["recipientsRejected"] = "0"
    return out


def campaign_obj(sb: World, ci: int, top_level: bool) -> dict:
    """The campaign as nested in Message/List (F1 shape); ``top_level`` adds Get/GetInfo's own fields."""
    c = sb.campaigns[ci]
    st = sb.campaign_state(ci)
    start = st["startSendTs"]
    o = {
        "commonStatus": st["commonStatus"],
        "counters": counters_obj(sb, ci),
        "createTs": sb.fmt(c.create),
        "creationWay": "5" if c.type == 7 else "2" if not c.generated else "1",  # 2: created through the API
        "currency": None,
        "deferredToTs": sb.fmt(c.deferred),
        "endSendTs": sb.fmt(st["endSendTs"]),
        "expirationTs": sb.fmt(start + c.validity * 60) if start < INF else None,
        # as captured (API.md 10.1): validity, mclass and trackShortLinkRecipients only here, as strings
        "extra": {"validity": str(c.validity), "mclass": "1", "isTestAlphanameUsed": False,
                  "coding": "2" if c.ucs2 else "0",
                  "charset": "UTF-8",
                  # an int in Message/List's nested campaign (F1), a string in GetInfo's (the 2026 capture)
                  "trackShortLinkRecipients": str(c.track) if top_level else c.track},
        "from": c.sender,
        "globalComment": None,
        "globalModStatus": "AUTO_READY_FOR_SEND",
        "groups": None,
        "groupsList": [],
        "highlightedText": None,
        "id": str(CAMPAIGN_ID_BASE + ci),
        "isTemplateComment": None,
        "moderationStatus": "READY_FOR_SEND" if c.sent else "MODERATION",
        "msgType": "SMS",
        "name": c.name,
        "partnerId": PARTNER_ID,
        "partnerModStatus": "AUTO_READY_FOR_SEND",
        "rateLimit": None,
        "ratePeriod": None,
        "recipientsSource": None,
        "sendStatus": st["sendStatus"],
        "startSendTs": sb.fmt(start),
        "text": c.text,
        "type": str(c.type),
        "usedStopListWords": None,
        "userId": USER_ID,
    }
    if top_level:
        o.update({"isDeleted": "0", "deletedTs": None, "moderationReason": None, "moderationReasonData": None,
                  "onPartnerModeration": 0, "onGlobalModeration": 0})
    return o


def campaign_raw(sb: World, ci: int, top_level: bool) -> Raw:
    return sb.cache(("cjson", ci, top_level),
                    lambda: Raw(json.dumps(campaign_obj(sb, ci, top_level), separators=(",", ":"))))


def link_get_obj(sb: World, j: int) -> dict:
    clicks, _ = sb.link_counts(j)
    return {"id": str(LINK_ID_BASE + j), "status": "1", "moderatorStatus": "1", "clickCnt": str(clicks),
            "createTs": sb.fmt(int(sb.l_create[j])), "expirationDate": None, "code": sb.l_code[j],
            "fullLink": sb.l_full[j], "shortLink": LINK_DOMAIN + sb.l_code[j], "comment": sb.l_comment[j],
            "moderatorComment": None}


def link_list_obj(sb: World, j: int) -> dict:
    """A Link/List item: Link/Get's fields plus what the capture shows (API.md 10.1), redirectCnt included."""
    _, redirects = sb.link_counts(j)
    return {**link_get_obj(sb, j), "domain": LINK_DOMAIN.split("//")[1].rstrip("/"), "partnerId": PARTNER_ID,
            "userId": USER_ID, "isTmp": "0", "isCustom": "0", "domainId": "1", "redirectCnt": str(redirects),
            "deletedTs": None, "updateTs": sb.fmt(int(sb.l_create[j])), "realExpirationDate": None,
            "analyticsKey": None}


def campaign_index(sb: World, cid) -> int | None:
    ci = to_int(cid, "id") - CAMPAIGN_ID_BASE
    if 0 <= ci < sb.n_campaigns() and sb.visible(ci):
        return ci
    return None


# ------------------------------------------------------------------ Campaign
def campaign_list(sb: World, p: dict, ctx) -> dict:
    crit = as_dict(p.get("criteria"))
    size, page = pagination(p)
    key, desc = sort_spec(p, {"id", "createTs", "startSendTs", "endSendTs", "from", "name", "type",
                              "counters.totalMsgNum", "counters.totalCost"})
    ids = set(id_list(crit.get("ids"), "criteria[ids]"))
    if crit.get("id") not in (None, ""):
        ids.add(to_int(crit["id"], "criteria[id]"))
    created = window(sb, crit, "createTsFrom", "createTsTo")
    sent = window(sb, crit, "sentTsFrom", "sentTsTo")
    now = sb.clock.ts
    if not ids and created is None and sent is None:
        created = (now - DAY, now)
    ck = ("clist", tuple(sorted(ids)), created, sent, str(crit.get("from")), str(crit.get("type")),
          str(crit.get("status")), str(crit.get("text")), key, desc)

    def select():
        out = []
        for ci, c in enumerate(sb.campaigns):
            if c.create > now:
                continue
            if ids and CAMPAIGN_ID_BASE + ci not in ids:
                continue
            if created and not created[0] <= c.create <= created[1]:
                continue
            if sent:
                st = sb.campaign_state(ci)
                if not (st["started"] and sent[0] <= c.start <= sent[1]):
                    continue
            if crit.get("from") and c.sender != crit["from"]:
                continue
            if crit.get("type") not in (None, "") and str(c.type) != str(crit["type"]):
                continue
            if crit.get("text") and c.text != crit["text"]:
                continue
            if crit.get("status") and sb.campaign_state(ci)["commonStatus"] != crit["status"]:
                continue
            out.append(ci)
        sort_key = {
            "id": lambda ci: ci, "createTs": lambda ci: sb.campaigns[ci].create,
            "startSendTs": lambda ci: sb.campaigns[ci].start, "endSendTs": lambda ci: sb.campaigns[ci].end,
            "from": lambda ci: sb.campaigns[ci].sender, "name": lambda ci: sb.campaigns[ci].name or "",
            "type": lambda ci: sb.campaigns[ci].type,
            "counters.totalMsgNum": lambda ci: sum(sb.counters(ci)["msg"]),
            "counters.totalCost": lambda ci: sum(sb.counters(ci)["cost"]),
        }[key]
        out.sort(key=lambda ci: (sort_key(ci), ci), reverse=desc)
        return out
    sel = sb.cache(ck, select)
    items = [campaign_raw(sb, ci, True) for ci in sel[page * size:(page + 1) * size]]
    return {"items": items, "totalItemCount": str(len(sel))}


def _campaign_from_id(sb, p):
    if p.get("id") in (None, ""):
        raise ApiError(11, MSG_BAD_PARAM.format("id"))
    ci = campaign_index(sb, p["id"])
    if ci is None:
        raise ApiError(2, MSG_NOT_FOUND)
    return ci


def campaign_get(sb: World, p: dict, ctx):
    ci = _campaign_from_id(sb, p)
    o = campaign_obj(sb, ci, True)
    o.pop("counters")
    o.pop("creationWay")
    return o


def campaign_get_info(sb: World, p: dict, ctx):
    ci = _campaign_from_id(sb, p)
    c = sb.campaigns[ci]
    filled = str(p.get("getFilledTplCampaignText", "1")) != "0"
    if c.placeholders and filled:
        idx = sb.msg_index(ci)
        if len(idx):
            o = campaign_obj(sb, ci, True)
            o["text"] = sb.message_texts(idx[:1])[0]
            return o
    return campaign_raw(sb, ci, True)


def links_get_links(sb: World, p: dict, ctx):
    cid = p.get("campaignId", p.get("id"))
    if cid in (None, ""):
        raise ApiError(11, MSG_BAD_PARAM.format("campaignId"))
    ci = campaign_index(sb, cid)
    if ci is None:
        raise ApiError(2, MSG_NOT_FOUND)
    out = []
    for lid in sb.campaigns[ci].link_ids:
        j = lid - LINK_ID_BASE
        clicks, redirects = sb.link_counts(j)
        out.append({"id": str(lid), "code": sb.l_code[j], "fullLink": sb.l_full[j],
                    "shortLink": LINK_DOMAIN + sb.l_code[j], "clickCnt": str(clicks),
                    "redirectCnt": str(redirects), "comment": sb.l_comment[j]})
    return out


def _validation(errors: dict):
    if errors:
        raise ApiError(1, MSG_VALIDATION, errors)


def campaign_create(sb: World, p: dict, ctx):
    d = p.get("data")
    if not isinstance(d, dict):
        raise ApiError(11, MSG_BAD_PARAM.format("data"))
    errors: dict = {}
    text = str(d.get("text") or "")
    if not text.strip():
        errors["text"] = ["Необходимо заполнить поле «Текст»."]
    try:
        type_ = int(d.get("type", 2))
        if type_ not in (1, 2, 3):
            raise ValueError
    except (TypeError, ValueError):
        errors["type"] = ["Значение «Тип» неверно."]
        type_ = 2
    name = d.get("name")
    if name is not None and len(str(name)) > 255:
        errors["name"] = ["Значение «Название» слишком длинное (максимум: 255 символов)."]
    try:
        validity = int(d.get("validity", 1440))
        if not 60 <= validity <= 1440:
            raise ValueError
    except (TypeError, ValueError):
        errors["validity"] = ["Значение «Время жизни» должно быть от 60 до 1440."]
        validity = 1440
    deferred = None
    if d.get("deferredToTs"):
        try:
            deferred = sb.parse(str(d["deferredToTs"]))
            if not sb.clock.ts + 3600 <= deferred <= sb.clock.ts + 14 * DAY:
                raise ValueError
        except ValueError:
            errors["deferredToTs"] = ["Время отложенной отправки должно быть от 1 часа до 14 дней."]
    sender = str(d.get("from") or "SMS")
    if len(sender) > 11:
        errors["from"] = ["Подпись отправителя не может быть длиннее 11 символов."]
    _validation(errors)
    ci = sb.create_campaign(type_, sender, text, name, validity, deferred,
                            int(str(d.get("trackShortLinkRecipients", "0")) == "1"))
    return str(CAMPAIGN_ID_BASE + ci)


def _phone(v) -> str | None:
    digits = re.sub(r"[\s()+-]", "", str(v))
    return digits if digits.isdigit() and 10 <= len(digits) <= 15 else None


def campaign_add_recipients(sb: World, p: dict, ctx):
    ci = _campaign_from_id(sb, p)
    c = sb.campaigns[ci]
    sources = [k for k in ("recipients", "recipientContacts", "recipientGroups", "recipientsFile")
               if p.get(k) not in (None, "", {})]
    if not sources:
        raise ApiError(11, MSG_BAD_PARAM.format("recipients"))
    if len(sources) > 1:
        raise ApiError(12, "Можно указать только один тип получателей.")
    if c.sent:
        raise ApiError(10, "Кампания уже отправлена или заблокирована.")
    if sources[0] != "recipients":
        # groups, contacts and files go through the task queue; they add nothing we can enumerate
        return ctx.start_task()
    raw = as_list(p["recipients"])
    if len(raw) > 500:
        raise ApiError(12, "Превышено максимальное количество получателей в одном запросе: 500.")
    ok, results = [], []
    for r in raw:
        fields = r if isinstance(r, dict) else {"recipient": r}
        number = _phone(fields.get("recipient", ""))
        if number is None:
            results.append({"recipient": str(fields.get("recipient", "")), "code": 1, "messageId": None,
                            "number": None, "contact": None})
            continue
        text = c.text
        if c.placeholders or c.type == 3:
            text = text.format_map(_Keep({k: v for k, v in fields.items() if k != "recipient"}))
        ok.append((number, text))
        results.append({"recipient": str(fields.get("recipient")), "code": 0, "messageId": None,
                        "number": number, "contact": None})
    new = sb.add_messages(ci, ok) if ok else []
    it = iter(new)
    for r in results:
        if r["code"] == 0:
            r["messageId"] = str(MESSAGE_ID_BASE + next(it))
    if ctx.background("Campaign/AddRecipients"):
        return ctx.start_task()
    if not ok:
        raise ApiError(99, "Ни один получатель не был добавлен.", results)
    if len(ok) < len(results):
        raise ApiError(98, "Часть получателей не была добавлена.", results)
    return results


class _Keep(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def campaign_send(sb: World, p: dict, ctx):
    ci = _campaign_from_id(sb, p)
    c = sb.campaigns[ci]
    if c.sent:
        raise ApiError(10, "Кампания уже отправлена.")
    if not len(sb.msg_index(ci)):
        raise ApiError(12, "В кампании нет получателей.")
    sb.send_campaign(ci)
    return 2


def message_send_sms(sb: World, p: dict, ctx):
    missing = [k for k in ("recipient", "text") if p.get(k) in (None, "")]
    if missing:
        raise ApiError(11, MSG_BAD_PARAM.format(", ".join(missing)))
    number = _phone(p["recipient"])
    if number is None:
        raise ApiError(1, MSG_VALIDATION, {"recipient": ["Неверный номер получателя."]})
    params = as_dict(p.get("params"))
    data = {"type": "1", "text": p["text"], "from": p.get("from") or "SMS", "name": params.get("name"),
            "validity": params.get("validity", 1440), "deferredToTs": params.get("deferredToTs")}
    cid = campaign_create(sb, {"data": data}, ctx)
    ci = int(cid) - CAMPAIGN_ID_BASE
    idx = sb.add_messages(ci, [(number, str(p["text"]))])
    sb.send_campaign(ci)
    return {"campaignId": cid, "messageId": str(MESSAGE_ID_BASE + idx[0]), "status": 2}


# ------------------------------------------------------------------ Message
def select_messages(sb: World, crit: dict, sort: tuple[str, bool]):
    """(message indices, status codes, statusUpdateTs, startSendTs) matching the criteria, as of the clock."""
    camp_ids = id_list(crit.get("campaignIds"), "criteria[campaignIds]")
    if crit.get("campaignId") not in (None, ""):
        camp_ids.append(to_int(crit["campaignId"], "criteria[campaignId]"))
    msg_ids = id_list(crit.get("ids"), "criteria[ids]")
    if crit.get("id") not in (None, ""):
        msg_ids.append(to_int(crit["id"], "criteria[id]"))
    pairs = {k: window(sb, crit, k + "From", k + "To")
             for k in ("campaignCreateTs", "campaignSentTs", "startSendTs", "statusUpdateTs")}
    now = sb.clock.ts
    if not camp_ids and not msg_ids and all(v is None for v in pairs.values()):
        pairs["campaignCreateTs"] = (now - DAY, now)
    statuses = [x.upper() for x in as_list(crit.get("status"))]
    key = ("mlist", tuple(camp_ids), tuple(msg_ids), tuple(sorted(pairs.items())), tuple(statuses),
           str(crit.get("from")), str(crit.get("to")), str(crit.get("text")), sort)

    def make():
        if camp_ids:
            cis = [ci for ci in (c - CAMPAIGN_ID_BASE for c in dict.fromkeys(camp_ids))
                   if 0 <= ci < sb.n_campaigns()]
        else:
            cis = range(sb.n_campaigns())
        cc = pairs["campaignCreateTs"]
        cs = pairs["campaignSentTs"]
        keep = []
        for ci in cis:
            c = sb.campaigns[ci]
            if c.create > now or (cc and not cc[0] <= c.create <= cc[1]):
                continue
            if cs and not (c.sent and c.start <= now and cs[0] <= c.start <= cs[1]):
                continue
            if crit.get("from") and c.sender != crit["from"]:
                continue
            keep.append(ci)
        parts = [sb.msg_index(ci) for ci in keep]
        idx = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if msg_ids:
            want = np.array(msg_ids, dtype=np.int64) - MESSAGE_ID_BASE
            idx = idx[np.isin(idx, want)]
        st, ts, sst = sb.status_at(idx)
        m = np.ones(len(idx), dtype=bool)
        if pairs["statusUpdateTs"]:
            lo, hi = pairs["statusUpdateTs"]
            m &= (ts >= lo) & (ts <= hi)
        if pairs["startSendTs"]:
            lo, hi = pairs["startSendTs"]
            m &= (sst >= lo) & (sst <= hi)
        if statuses:
            codes = [ST[x] for x in statuses if x in ST]
            m &= np.isin(st, codes)
        idx, st, ts, sst = idx[m], st[m], ts[m], sst[m]
        if crit.get("to") or crit.get("text"):
            nums = sb.message_numbers(idx) if crit.get("to") else None
            texts = sb.message_texts(idx) if crit.get("text") else None
            keep_m = np.array([(nums is None or str(crit["to"]) in nums[k][0]) and
                               (texts is None or texts[k] == crit["text"]) for k in range(len(idx))], dtype=bool)
            idx, st, ts, sst = idx[keep_m], st[keep_m], ts[keep_m], sst[keep_m]
        field, desc = sort
        sk = {"id": idx, "campaignId": sb.m_camp[idx], "statusUpdateTs": ts, "startSendTs": sst,
              "segNum": sb.m_seg[idx], "status": st}.get(field, idx)
        order = np.lexsort((idx, sk))
        if desc:
            order = order[::-1]
        return idx[order], st[order], ts[order], sst[order]
    return sb.cache(key, make)


def message_list(sb: World, p: dict, ctx):
    crit = as_dict(p.get("criteria"))
    size, page = pagination(p)
    sort = sort_spec(p, {"id", "campaignId", "statusUpdateTs", "startSendTs", "segNum", "status"})
    idx, st, ts, sst = select_messages(sb, crit, sort)
    sl = slice(page * size, (page + 1) * size)
    pidx, pst, pts, psst = idx[sl], st[sl], ts[sl], sst[sl]
    with_info = str(p.get("withNumberInfo", "0")) == "1"
    texts = sb.message_texts(pidx)
    nums = sb.message_numbers(pidx)
    uuids = sb.message_uuids(pidx)
    starts, updates = sb.fmt_many(psst), sb.fmt_many(pts)
    items = []
    for k, (i, ci, seg, status) in enumerate(zip(pidx.tolist(), sb.m_camp[pidx].tolist(), sb.m_seg[pidx].tolist(),
                                                 pst.tolist())):
        c = sb.campaigns[ci]
        to, country, operator = nums[k]
        items.append({
            "contentProviderName": None, "partnerId": PARTNER_ID, "userId": USER_ID, "usedStopListWords": None,
            "countryA2": country if with_info else None, "operatorName": operator if with_info else None,
            "id": str(MESSAGE_ID_BASE + i), "campaignId": str(CAMPAIGN_ID_BASE + ci),
            "segNum": str(seg), "segUserBuy": money(c.price), "status": STATUSES[status],
            "uuid": uuids[k], "from": c.sender, "to": to, "groups": None, "text": texts[k],
            "startSendTs": starts[k], "statusUpdateTs": updates[k], "contactCardId": None,
            "contentProviderId": None, "segPartnerSell": None, "segPartnerBuy": None, "segSystemSell": None,
            "segSystemBuy": None, "systemCurrency": None, "campaign": campaign_raw(sb, ci, False)})
    return {"items": items, "totalItemCount": str(len(idx))}


def message_get_sms_status(sb: World, p: dict, ctx):
    ids = id_list(p.get("ids"), "ids")
    if not ids:
        raise ApiError(2, MSG_NOT_FOUND)
    n = len(sb.m_camp)
    idx = np.array([i - MESSAGE_ID_BASE for i in ids if 0 <= i - MESSAGE_ID_BASE < n], dtype=np.int64)
    if len(idx):
        vis = np.array([sb.visible(int(ci)) for ci in sb.m_camp[idx]], dtype=bool)
        idx = idx[vis]
    st, ts, sst = sb.status_at(idx)
    return [{"id": str(MESSAGE_ID_BASE + int(i)), "status": STATUSES[st[k]], "segNum": str(int(sb.m_seg[i])),
             "startSendTs": sb.fmt(int(sst[k])), "statusUpdateTs": sb.fmt(int(ts[k]))}
            for k, i in enumerate(idx.tolist())]


# ------------------------------------------------------------------ Link
def link_list(sb: World, p: dict, ctx):
    crit = as_dict(p.get("criteria"))
    size, page = pagination(p)
    lo, hi = ts_param(sb, crit.get("createTsFrom"), "createTsFrom"), ts_param(sb, crit.get("createTsTo"), "createTsTo")
    q = str(crit.get("query") or "")
    key, desc = sort_spec(p, {"id", "createTs", "clickCnt", "code", "fullLink"})
    sel = []
    for j in range(len(sb.l_code)):
        if not sb.link_visible(j):
            continue
        if lo is not None and sb.l_create[j] < lo or hi is not None and sb.l_create[j] > hi:
            continue
        if str(crit.get("status", "1")) not in ("1", "") or str(crit.get("moderatorStatus", "1")) not in ("1", ""):
            continue
        if q and q not in sb.l_code[j] and q not in (sb.l_comment[j] or ""):
            continue
        sel.append(j)
    sk = {"id": lambda j: j, "createTs": lambda j: int(sb.l_create[j]), "clickCnt": lambda j: sb.link_counts(j)[0],
          "code": lambda j: sb.l_code[j], "fullLink": lambda j: sb.l_full[j]}[key]
    sel.sort(key=lambda j: (sk(j), j), reverse=desc)
    return {"items": [link_list_obj(sb, j) for j in sel[page * size:(page + 1) * size]],
            "totalItemCount": str(len(sel))}


def link_get(sb: World, p: dict, ctx):
    j = None
    if p.get("id") not in (None, ""):
        j = to_int(p["id"], "id") - LINK_ID_BASE
    elif p.get("code") not in (None, "") or p.get("shortLink") not in (None, ""):
        code = str(p.get("code") or str(p["shortLink"]).rstrip("/").rsplit("/", 1)[-1])
        j = sb.l_code.index(code) if code in sb.l_code else -1
    else:
        raise ApiError(12, "Необходимо указать id, code или shortLink.")
    if not (0 <= j < len(sb.l_code)) or not sb.link_visible(j):
        raise ApiError(2, MSG_NOT_FOUND)
    return link_get_obj(sb, j)


def link_get_stats(sb: World, p: dict, ctx):
    if p.get("ids") in (None, "", {}) and p.get("type") in (None, ""):
        raise ApiError(11, MSG_BAD_PARAM.format("ids, type"))
    ids = id_list(p.get("ids"), "ids", limit=5)
    if not ids:
        raise ApiError(11, MSG_BAD_PARAM.format("ids"))
    typ = str(p.get("type") or "")
    if typ not in STATS_RANGE:
        raise ApiError(12, "Параметр type может принимать значения monthly, daily, hourly, minute.")
    crit = as_dict(p.get("criteria"))
    lo, hi = ts_param(sb, crit.get("dateFrom"), "dateFrom"), ts_param(sb, crit.get("dateTo"), "dateTo")
    span = STATS_RANGE[typ]
    now = sb.clock.ts
    if lo is None and hi is None:
        lo, hi = now - span, now
    elif lo is None:
        lo = hi - span
    elif hi is None or hi - lo > span:
        hi = lo + span
    hi_eff = min(hi, now)
    starts = _period_starts(sb, typ, lo, hi_eff)
    items = [{"param": _period_label(sb, typ, t, getattr(sb, "stats_label_style", "hm"))} for t in starts.tolist()]
    totals: dict = {}
    bounds = np.append(starts, INF)
    for pos, lid in enumerate(ids):
        # An id the account does not have still holds its position, with zeros (our assumption: the capture
        # shows only known ids; the client reads either way).
        j = lid - LINK_ID_BASE
        t = np.zeros(0, dtype=np.int64)
        redirect = np.zeros(0, dtype=bool)
        if 0 <= j < len(sb.l_code) and sb.link_visible(j):
            a, b = sb.l_off[j], sb.l_off[j + 1]
            t = sb.k_t[a:b]
            redirect = (sb.k_rcum[a + 1:b + 1] - sb.k_rcum[a:b]).astype(bool)
            keep = (t >= lo) & (t <= hi_eff)
            t, redirect = t[keep], redirect[keep]
        bucket = np.searchsorted(bounds, t, side="right") - 1
        clicks = np.bincount(bucket, minlength=len(starts))[:len(starts)]
        redirects = np.bincount(bucket, weights=redirect, minlength=len(starts))[:len(starts)].astype(np.int64)
        for row, c, r in zip(items, clicks.tolist(), redirects.tolist()):
            row[f"clicks{pos}"] = str(c) if c else 0  # as captured: non-zero counts strings, zeros numbers
            row[f"redirects{pos}"] = str(r) if r else 0
        n_clicks, n_redirects = int(clicks.sum()), int(redirects.sum())
        totals[f"totalClicks{pos}"] = str(n_clicks) if n_clicks else 0
        totals[f"totalRedirects{pos}"] = str(n_redirects) if n_redirects else 0
    return {"items": items, "totals": totals if items else []}


_PERIOD_SECONDS = {"minute": 60, "hourly": 3600}
_LABEL_LENGTHS = {"hm": 16, "h": 13, "hms": 19}


def _period_starts(sb: World, typ: str, lo: int, hi: int) -> np.ndarray:
    """Starts of every period of type `typ` that overlaps [lo, hi], empty ones too. Periods are the account's
    local minutes, hours, days and months: a day across a DST shift lasts 23 or 25 hours, and the fall-back
    hour is two periods with the same wall-clock label."""
    if hi < lo:
        return np.zeros(0, dtype=np.int64)
    if typ in _PERIOD_SECONDS:
        step = _PERIOD_SECONDS[typ]
        first = lo - (lo + sb.utc_offset(lo)) % step  # aligned on the wall clock (half-hour zones too)
        return np.arange(first, hi + 1, step, dtype=np.int64)
    unit = "D" if typ == "daily" else "M"
    first = np.datetime64(sb.fmt(lo)[:10], unit)
    last = np.datetime64(sb.fmt(hi)[:10], unit)
    return np.array([sb.parse(f"{d.astype('datetime64[D]')} 00:00:00") for d in np.arange(first, last + 1)],
                    dtype=np.int64)


def _period_label(sb: World, typ: str, start: int, style: str) -> str:
    """The grid's `param`: `YYYY-MM-DD` daily, `YYYY-MM` monthly (as captured); hourly and minute labels were
    not captured, so the style is switchable (`World.stats_label_style`: hm, h (hourly only) or hms)."""
    wall = sb.fmt(start)
    if typ == "daily":
        return wall[:10]
    if typ == "monthly":
        return wall[:7]
    return wall[:_LABEL_LENGTHS["hm" if style == "h" and typ == "minute" else style]]


# ------------------------------------------------------------------ others
def taskqueue_get_status(sb: World, p: dict, ctx):
    tid = p.get("id")
    if tid in (None, ""):
        raise ApiError(11, MSG_BAD_PARAM.format("id"))
    task = sb.tasks.get(str(tid))
    if task is None:
        raise ApiError(2, MSG_NOT_FOUND)
    task[0] += 1
    polls, need = task
    if polls >= need:
        status, progress = 2, 100
    else:
        status, progress = (0, 0) if polls == 1 and need > 2 else (1, int(100 * polls / need))
    return {"id": str(tid), "status": str(status), "progress": str(progress)}


def user_get_own_balance(sb: World, p: dict, ctx):
    return {"balance": money(sb.balance), "currency": sb.currency}


METHODS: dict[str, tuple[str, dict[str, tuple[str, Callable]]]] = {
    "campaign": ("Campaign", {
        "list": ("List", campaign_list), "get": ("Get", campaign_get), "getinfo": ("GetInfo", campaign_get_info),
        "getlinks": ("GetLinks", links_get_links), "create": ("Create", campaign_create),
        "addrecipients": ("AddRecipients", campaign_add_recipients), "send": ("Send", campaign_send)}),
    "message": ("Message", {
        "list": ("List", message_list), "getsmsstatus": ("GetSMSStatus", message_get_sms_status),
        "sendsmsmessage": ("SendSmsMessage", message_send_sms)}),
    "link": ("Link", {
        "list": ("List", link_list), "get": ("Get", link_get), "getlinks": ("GetLinks", links_get_links),
        "getstats": ("GetStats", link_get_stats)}),
    "taskqueue": ("TaskQueue", {"getstatus": ("GetStatus", taskqueue_get_status)}),
    "user": ("User", {"getownbalance": ("GetOwnBalance", user_get_own_balance)}),
}

"""Generated gateway data: campaigns, messages, short links and clicks, all as of a simulated clock.

Messages live in numpy arrays sorted by campaign (per-campaign offsets), never one object per message.
Each message has fixed transition times (NEW -> ENQUEUD -> ACCEPTD -> first report -> optional second
report); its status as of the clock is the last transition <= now, computed vectorized over a slice.
Texts, recipients and uuids are derived lazily from the message id and the seed.

All times are int seconds since the Unix epoch (true instants, so durations are real even across a DST
shift). The account's zone is applied only at the edges: :func:`fmt_ts` writes the gateway's naive local wall
times and :func:`parse_ts` reads them (an ambiguous fall-back time as its first occurrence).
"""

from __future__ import annotations

import calendar
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from smsapi import glossary

SANDBOX_API_KEY = "sandbox" + "0" * 33

CAMPAIGN_ID_BASE = 400_000
MESSAGE_ID_BASE = 50_000_000
LINK_ID_BASE = 4_000
INF = 2**62

STATUSES = glossary.MESSAGE_STATUSES  # a message status is stored as its index here
ST = {s: i for i, s in enumerate(STATUSES)}
FINAL_CODES = np.array(sorted(ST[s] for s in glossary.FINAL_STATUSES))
IS_FINAL = np.zeros(len(STATUSES), dtype=bool)
IS_FINAL[FINAL_CODES] = True
TYPE_NAMES = {1: "single", 2: "mass", 3: "template", 7: "functional"}
CURRENCY_BY_TZ = {"Asia/Almaty": "KZT", "Asia/Tashkent": "UZS", "Europe/Kiev": "UAH", "Europe/Kyiv": "UAH",
                  "America/Sao_Paulo": "BRL", "Europe/Berlin": "EUR"}

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def to_ts(dt: datetime, tz: str) -> int:
    """Epoch seconds of a datetime; a naive one is a wall time in zone `tz` (ambiguous: its first occurrence)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return int(dt.timestamp())


# Zone offsets memoized per 15 minutes: every zone's shifts fall on a quarter hour, and formatting one
# timestamp per message field must stay cheap.
_QUARTER = 900
_UTC_OFFSETS: dict[tuple[str, int], int] = {}
_WALL_OFFSETS: dict[tuple[str, int], int] = {}


def _offset(tz: str, ts: int) -> int:
    """The zone's UTC offset in seconds at instant `ts`."""
    key = (tz, ts // _QUARTER)
    off = _UTC_OFFSETS.get(key)
    if off is None:
        off = _UTC_OFFSETS[key] = int(datetime.fromtimestamp(key[1] * _QUARTER, ZoneInfo(tz)).utcoffset()
                                      .total_seconds())
    return off


def _wall_offset(tz: str, wall: int) -> int:
    """The zone's UTC offset for a wall time given as `calendar.timegm` seconds (ambiguous: first occurrence;
    in a spring-forward gap: the offset before the shift)."""
    key = (tz, wall // _QUARTER)
    off = _WALL_OFFSETS.get(key)
    if off is None:
        naive = datetime(1970, 1, 1) + timedelta(seconds=key[1] * _QUARTER)
        off = _WALL_OFFSETS[key] = int(naive.replace(tzinfo=ZoneInfo(tz)).utcoffset().total_seconds())
    return off


def fmt_ts(ts, tz: str) -> str | None:
    """The gateway's wire form of an instant: naive wall time in the account's zone."""
    if ts is None or ts >= INF:
        return None
    ts = int(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts + _offset(tz, ts)))


def fmt_ts_many(ts, tz: str) -> list[str | None]:
    """:func:`fmt_ts` of each instant in an array, vectorized (a Message/List page writes two a message)."""
    ts = np.asarray(ts, dtype=np.int64)
    finite = ts < INF
    known = np.where(finite, ts, 0)  # past the clock: formatted as 0, then given as None
    quarters, where = np.unique(known // _QUARTER, return_inverse=True)
    offsets = np.array([_offset(tz, int(q) * _QUARTER) for q in quarters.tolist()], dtype=np.int64)
    walls = np.datetime_as_string((known + offsets[where.ravel()]).astype("datetime64[s]"))
    return [w.replace("T", " ") if ok else None for w, ok in zip(walls.tolist(), finite.tolist())]


def parse_ts(s: str, tz: str) -> int:
    """Epoch seconds of a wire time (a wall time in the account's zone)."""
    s = s.strip()
    for f in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            wall = calendar.timegm(time.strptime(s, f))
        except ValueError:
            continue
        return wall - _wall_offset(tz, wall)
    raise ValueError(f"bad timestamp {s!r}")


def money(v: int) -> str:
    """Ten-thousandths as a 4 dp string."""
    sign = "-" if v < 0 else ""
    v = abs(int(v))
    return f"{sign}{v // 10000}.{v % 10000:04d}"


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, vectorized; the same bits for the same input everywhere."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def sms_units(text: str) -> tuple[int, bool]:
    """(length in units, needs UCS-2). Emoji count as two UTF-16 units."""
    ucs2 = any(ord(ch) > 126 or ch in "[]{}\\^~|" for ch in text)
    return (len(text.encode("utf-16-le")) // 2 if ucs2 else len(text)), ucs2


def segments(units, ucs2):
    units = np.asarray(units)
    ucs2 = np.asarray(ucs2, dtype=bool)
    single = np.where(ucs2, 70, 160)
    part = np.where(ucs2, 67, 153)
    seg = np.where(units <= single, 1, -(-units // part))
    return np.clip(seg, 1, 4)


# ---------------------------------------------------------------- vocabulary
SENDERS = ["KASPI.KZ", "Beeline", "HalykBank", "Magnum", "Technodom", "Chocofood", "SMS-Info", "Aviata",
           "Arbuz_kz", "KazPost", "Sulpak", "Mechta.kz", "iPoint", "Wildberry", "KOLESA", "Evrika", "Yandex"]
NAMES = ["Айгерим", "Нурлан", "Ольга", "Данияр", "Alex", "Марат", "Жанна", "Sergey", "Әсел", "Ерлан",
         "Dana", "Тимур", "Гүлнар", "Nick", "Мадина", "Арман"]
MASS_TEXTS = [
    "Скидки до 50% на всё! Только до воскресенья 🔥 {link}",
    "Ваш заказ доставлен в пункт выдачи. Код получения: 4821. Спасибо, что выбрали нас!",
    "Black Friday: -30% on everything, today only! Details: {link}",
    "Уважаемый клиент! С 01.12 меняются тарифы обслуживания; подробности — на сайте {link}",
    "Приглашаем на дегустацию 🍷 в субботу, 12:00–18:00. Вход свободный!",
    "Your parcel #KZ-77120 is on its way (ETA: 2 days). Track: {link}",
    "Напоминаем: оплатите счёт до 25-го числа, чтобы избежать пени.",
    "Новая коллекция уже в магазинах! Покажите это SMS на кассе и получите подарок 🎁",
    "Акция «1+1=3» в сети аптек: выбирайте товары и экономьте! {link}",
    "Sale! Up to 70% off; free delivery over 10 000 KZT. Shop now: {link}",
]
TEMPLATE_TEXTS = [
    "Здравствуйте, {name}! Ваш баланс на {date}: {balance} ₸. Пополнить: {link}",
    "{name}, ваш заказ №{code} собран и ждёт вас 📦",
    "Hello, {name}! Your balance on {date} is {balance} KZT.",
    "{name}, напоминаем о записи в клинику {date} в 11:30. Ответьте «1» для подтверждения 😊",
    "{name}, для вас персональная скидка 15% до {date}! Промокод: {code}. {link}",
]
FUNCTIONAL_TEXTS = [
    "Код подтверждения: {code}. Никому не сообщайте его.",
    "Your verification code is {code}",
    "Ваш одноразовый пароль: {code}. Действует 5 минут.",
]
FILLER = [" Акция действует до конца месяца, подробности на сайте и в мобильном приложении.",
          " Количество товаров ограничено; предложение не является публичной офертой.",
          " Отписаться от рассылки: ответьте STOP на это сообщение.",
          " Мы всегда рады видеть вас — ваш любимый магазин!"]
FULL_LINKS = ["https://shop.example.kz/sale?utm_source=sms", "https://example.kz/promo/black-friday",
              "https://track.example.com/p/KZ77120", "https://clinic.example.kz/booking",
              "https://bank.example.kz/topup?ref=sms", "https://pharmacy.example.kz/1plus1"]
LINK_DOMAIN = "https://mbzn.co/"
# (country, prefix, operator names, share)
NUMBER_PLANS = [
    ("KZ", "7700", "Altel"), ("KZ", "7708", "Altel"), ("KZ", "7701", "Kcell"), ("KZ", "7702", "Kcell"),
    ("KZ", "7775", "Activ"), ("KZ", "7778", "Activ"), ("KZ", "7705", "Beeline KZ"), ("KZ", "7777", "Beeline KZ"),
    ("KZ", "7771", "Beeline KZ"), ("KZ", "7707", "Теле2"), ("KZ", "7747", "Теле2"), ("KZ", "7701", "Kcell"),
    ("KZ", "7777", "Beeline KZ"), ("KZ", "7707", "Теле2"), ("UZ", "99890", "Beeline UZ"), ("UZ", "99893", "Ucell"),
    ("UZ", "99897", "Mobiuz"), ("RU", "7916", "МТС"), ("RU", "7926", "МегаФон"), ("KG", "996555", "MegaCom"),
]


@dataclass
class CampaignTruth:
    campaign_id: int
    campaign_type: str
    sender: str
    messages_total: int
    status_counts: dict[str, int]
    segments_total: int
    cost_total: Decimal
    clicks: int
    redirects: int


class Clock:
    """The simulated clock: ``ts`` epoch seconds, ``now`` its naive wall time in the account's zone.

    Listeners (:meth:`add_listener`) are called with ``(before_ts, after_ts)`` each time it is set, in the
    setter's thread (the webhook sender finds there what became final in between), so they must be quick."""

    def __init__(self, ts: int, on_change=None, timezone: str = "Asia/Almaty"):
        self._ts = int(ts)
        self._on_change = on_change
        self._listeners: list = []
        self.timezone = timezone

    def add_listener(self, listener) -> None:
        """Call ``listener(before_ts, after_ts)`` after every move of the clock."""
        self._listeners.append(listener)

    def remove_listener(self, listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    @property
    def ts(self) -> int:
        return self._ts

    @property
    def now(self) -> datetime:
        return self.utc.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)

    @property
    def utc(self) -> datetime:
        return datetime.fromtimestamp(self._ts, UTC)

    def set(self, when: datetime | int) -> datetime:
        """Set to epoch seconds, an aware datetime, or a naive wall time in the account's zone."""
        before = self._ts
        self._ts = int(when) if isinstance(when, int) else to_ts(when, self.timezone)
        if self._on_change:
            self._on_change()
        for listener in list(self._listeners):
            listener(before, self._ts)
        return self.now

    def advance(self, delta: timedelta | float) -> datetime:
        secs = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        return self.set(self._ts + int(secs))


@dataclass
class _Campaign:
    type: int
    sender: str
    text: str            # as sent (template text keeps placeholders)
    name: str | None
    create: int
    start: int           # sending start (createTs, deferredToTs, or INF until sent)
    deferred: int | None
    price: int           # segUserBuy in ten-thousandths
    validity: int        # minutes
    track: int
    end: int = INF       # last message accepted (endSendTs)
    link_ids: list = field(default_factory=list)
    ucs2: bool = False
    placeholders: tuple = ()
    base_units: int = 0
    sent: bool = True
    generated: bool = True  # False for a campaign created through the API (Campaign/Create, SendSmsMessage)


class World:
    """Generated gateway state plus a clock, with no HTTP (`sandbox.gateway.Sandbox` serves it). Build with
    :meth:`generate`."""

    def __init__(self, seed: int, now_ts: int, timezone: str):
        self.seed = int(seed)
        self.timezone = timezone
        self.currency = CURRENCY_BY_TZ.get(timezone, "KZT")
        self.api_key = SANDBOX_API_KEY
        self.blocked = False  # True: every call with the right key is answered code 14, as for a blocked account
        self.lock = threading.RLock()
        self.clock = Clock(now_ts, on_change=self._clock_changed, timezone=timezone)
        self.campaigns: list[_Campaign] = []
        self.c_off = np.zeros(1, dtype=np.int64)
        self.extra_idx: dict[int, np.ndarray] = {}     # campaigns created through the API
        self.msg_override: dict[int, tuple[str, str]] = {}  # message index -> (recipient, text)
        self.tasks: dict[str, list] = {}
        self.balance = 250_000 * 10000
        self.stats_label_style = "hm"  # Link/GetStats hourly/minute labels: hm, h or hms (see api._period_label)
        self.counter_lag_seconds = 0  # counters count statuses as of this long ago (see `counters`)
        self.done_timeout_hours: float | None = None  # DONE and frozen counters this long after sending ended
        self._cache: dict = {}
        self._cache_ts = None
        self._seedmix = np.uint64((self.seed * 0x9E3779B1 + 12345) & 0xFFFFFFFFFFFFFFFF)

    def fmt(self, ts) -> str | None:
        """An instant as the gateway writes it (see :func:`fmt_ts`)."""
        return fmt_ts(ts, self.timezone)

    def fmt_many(self, ts) -> list[str | None]:
        """Instants as the gateway writes them (see :func:`fmt_ts_many`)."""
        return fmt_ts_many(ts, self.timezone)

    def parse(self, s: str) -> int:
        """A wire time as an instant (see :func:`parse_ts`)."""
        return parse_ts(s, self.timezone)

    def utc_offset(self, ts: int) -> int:
        """The account zone's UTC offset in seconds at instant `ts`."""
        return _offset(self.timezone, int(ts))

    # ------------------------------------------------------------ generation
    @classmethod
    def generate(cls, seed: int = 7, campaigns: int = 40, messages: int = 4000, now: datetime | None = None,
                 timezone: str = "Asia/Almaty", history_days: int = 60) -> World:
        """`history_days`: how far back campaigns were created (a long-lived account: a year or more)."""
        now = now or datetime(2026, 11, 1, 12, 0)
        sb = cls(seed, to_ts(now, timezone), timezone)
        sb._generate(int(campaigns), int(messages), int(history_days))
        return sb

    def _generate(self, n_c: int, n_m: int, history_days: int = 60) -> None:
        rng = np.random.default_rng(self.seed)
        now = self.clock.ts
        day = 86400
        # campaign kinds and sizes
        types = rng.choice([1, 2, 3, 7], size=n_c, p=[0.25, 0.4, 0.2, 0.15])
        if n_c >= 4:
            types[:4] = [2, 3, 1, 7]
        sizes = np.zeros(n_c, dtype=np.int64)
        sizes[types == 1] = 1
        fn = types == 7
        sizes[fn] = rng.integers(1, 20, size=fn.sum())
        big = (types == 2) | (types == 3)
        rest = n_m - sizes.sum()
        if rest < 2 * big.sum():  # too few messages for the big campaigns: shrink the small ones
            sizes[:] = 0
            big = np.ones(n_c, dtype=bool)
            rest = n_m
        w = rng.lognormal(0, 1.2, size=big.sum())
        share = rng.multinomial(max(rest, 0), w / w.sum()) if big.sum() else np.zeros(0, dtype=np.int64)
        sizes[big] = share
        # creation times: up to `history_days` back (60 unless told), some in the last day, a few after now
        create = now - (rng.random(n_c) * history_days * day).astype(np.int64)
        recent = rng.random(n_c) < 0.12
        create[recent] = now - (rng.random(recent.sum()) * day).astype(np.int64)
        future = rng.random(n_c) < 0.05
        create[future] = now + (rng.random(future.sum()) * 3 * day).astype(np.int64) + 60
        order = np.argsort(create, kind="stable")
        types, sizes, create = types[order], sizes[order], create[order]
        self.c_off = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        total = int(self.c_off[-1])

        link_id = LINK_ID_BASE
        links_c, links_full, links_code, links_comment, links_create = [], [], [], [], []
        for i in range(n_c):
            t = int(types[i])
            r = np.random.default_rng([self.seed, i])
            if t == 7:
                text = FUNCTIONAL_TEXTS[r.integers(len(FUNCTIONAL_TEXTS))]
            elif t == 3:
                text = TEMPLATE_TEXTS[r.integers(len(TEMPLATE_TEXTS))]
            else:
                text = MASS_TEXTS[r.integers(len(MASS_TEXTS))]
            lids = []
            if "{link}" in text:
                n_links = int(r.choice([0, 1, 1, 2, 3]))
                full = FULL_LINKS[r.integers(len(FULL_LINKS))]
                for k in range(n_links):
                    code = _link_code(link_id)
                    lids.append(link_id)
                    links_c.append(i)
                    links_full.append(full if k == 0 else f"{full}&v={k + 1}")
                    links_code.append(code)
                    links_comment.append(None if r.random() < 0.5 else f"campaign {CAMPAIGN_ID_BASE + i} link {k + 1}")
                    links_create.append(int(create[i]) - int(r.integers(60, 3600)))
                    link_id += 1
                text = text.replace("{link}", (LINK_DOMAIN + _link_code(lids[0])) if lids else full)
            if t in (1, 2) and r.random() < 0.5:  # longer texts: 2-4 segments
                target = int(r.integers(2, 5))
                k = 0
                while True:
                    cand = text + FILLER[k % len(FILLER)]
                    units, ucs2 = sms_units(cand)
                    if units > (67 if ucs2 else 153) * target:
                        break
                    text, k = cand, k + 1
            deferred = None
            start = int(create[i])
            recent_c = now - 3 * day <= start <= now
            if t in (2, 3) and (r.random() < 0.12 or (recent_c and r.random() < 0.5)):
                if recent_c:  # still waiting at the clock: these stay NEW until the clock passes them
                    deferred = now + int(r.integers(3600, 2 * day))
                else:
                    deferred = start + int(r.integers(3600, 14 * day))
                start = deferred
            else:
                start += int(r.integers(1, 90))
            units, ucs2 = sms_units(text)
            placeholders = tuple(p for p in ("name", "date", "balance", "code") if "{" + p + "}" in text)
            base_units = units - sum(len(p) + 2 for p in placeholders)
            price = int(r.integers(90_000, 260_000)) if t != 7 else int(r.integers(20_000, 60_000))
            self.campaigns.append(_Campaign(
                type=t, sender=SENDERS[r.integers(len(SENDERS))], text=text,
                name=None if t in (1, 7) else f"Кампания {i + 1}" if r.random() < 0.6 else f"Promo #{i + 1}",
                create=int(create[i]), start=start, deferred=deferred, price=price,
                validity=int(r.choice([60, 360, 720, 1440, 1440, 1440])), track=int(bool(lids) and r.random() < 0.4),
                link_ids=lids, ucs2=ucs2, placeholders=placeholders, base_units=base_units))

        # at least one deferred campaign still waiting at the clock (its messages NEW)
        if not any(c.deferred and c.deferred > now and c.create <= now for c in self.campaigns):
            cands = [i for i, c in enumerate(self.campaigns) if c.type in (2, 3) and c.create <= now]
            if cands:
                c = self.campaigns[cands[-1]]
                c.deferred = c.start = now + 6 * 3600
        # ---- messages, vectorized
        camp = np.repeat(np.arange(n_c, dtype=np.int32), sizes)
        rank = np.arange(total, dtype=np.int64) - self.c_off[:-1][camp]
        c_start = np.array([c.start for c in self.campaigns], dtype=np.int64)
        c_create = np.array([c.create for c in self.campaigns], dtype=np.int64)
        c_valid = np.array([c.validity for c in self.campaigns], dtype=np.int64) * 60
        rate = rng.integers(20, 200, size=n_c)  # messages per second while sending
        self.m_camp = camp
        self.m_tnew = c_create[camp]
        tenq = c_start[camp] + rank // rate[camp] + rng.integers(0, 3, size=total)
        tacc = tenq + rng.integers(1, 30, size=total)
        seg = self._segments_for(np.arange(total, dtype=np.int64))
        # first report: delivery delay lognormal around ~10 s with a tail to hours
        delay = np.minimum(rng.lognormal(2.3, 1.6, size=total), 20 * 3600).astype(np.int64) + 1
        u = rng.random(total)
        s1 = np.full(total, ST["DELIVRD"], dtype=np.int8)
        s1[u < 0.06] = ST["UNDELIV"]
        s1[(u >= 0.06) & (u < 0.09)] = ST["REJECTD"]
        s1[(u >= 0.09) & (u < 0.12)] = ST["EXPIRED"]
        s1[(u >= 0.12) & (u < 0.13)] = ST["DELETED"]
        t1 = tacc + delay
        rej = s1 == ST["REJECTD"]
        t1[rej] = tacc[rej] + rng.integers(1, 5, size=rej.sum())
        exp = s1 == ST["EXPIRED"]
        t1[exp] = tacc[exp] + c_valid[camp[exp]]
        late = (rng.random(total) < 0.03) & ((s1 == ST["DELIVRD"]) | (s1 == ST["UNDELIV"]))
        t1[late] = tacc[late] + rng.integers(day, 5 * day, size=late.sum())
        t2 = np.full(total, INF, dtype=np.int64)
        s2 = s1.copy()
        pd = (rng.random(total) < 0.25) & (seg > 1) & (s1 == ST["DELIVRD"]) & ~late
        s1[pd] = ST["PDLIVRD"]
        t2[pd] = tacc[pd] + c_valid[camp[pd]] + rng.integers(1, 600, size=pd.sum())
        self.m_seg, self.m_tenq, self.m_tacc, self.m_t1, self.m_t2 = seg.astype(np.int8), tenq, tacc, t1, t2
        self.m_s1, self.m_s2 = s1, s2
        for i, c in enumerate(self.campaigns):
            a, b = self.c_off[i], self.c_off[i + 1]
            c.end = int(tacc[a:b].max()) if b > a else c.start

        # ---- links and clicks
        n_l = len(links_c)
        self.l_camp = np.array(links_c, dtype=np.int32)
        self.l_full, self.l_code, self.l_comment = links_full, links_code, links_comment
        self.l_create = np.array(links_create, dtype=np.int64)
        clicks_t, clicks_r, l_off = [], [], [0]
        for j in range(n_l):
            ci = int(self.l_camp[j])
            r = np.random.default_rng([self.seed, 1_000_003, j])
            a, b = self.c_off[ci], self.c_off[ci + 1]
            fin = self.m_s2[a:b] == ST["DELIVRD"]
            dt = self.m_t1[a:b][fin]
            pos = self.campaigns[ci].link_ids.index(LINK_ID_BASE + j)
            n = int(r.binomial(len(dt), r.uniform(0.02, 0.2) / (1 + 0.5 * pos))) if len(dt) else 0
            if n:
                base = dt[r.integers(0, len(dt), size=n)]
                fast = r.random(n) < 0.6
                d = np.where(fast, r.exponential(2 * 3600, size=n), r.exponential(7 * day, size=n)).astype(np.int64)
                ct = np.sort(base + 5 + d)
            else:
                ct = np.zeros(0, dtype=np.int64)
            clicks_t.append(ct)
            clicks_r.append(r.random(len(ct)) < 0.85)
            l_off.append(l_off[-1] + len(ct))
        self.k_t = np.concatenate(clicks_t) if clicks_t else np.zeros(0, dtype=np.int64)
        kr = np.concatenate(clicks_r) if clicks_r else np.zeros(0, dtype=bool)
        self.k_rcum = np.concatenate([[0], np.cumsum(kr)]).astype(np.int64)
        self.l_off = np.array(l_off, dtype=np.int64)

    # ------------------------------------------------------------ lazy per-message values
    def _hash(self, idx: np.ndarray, salt: int) -> np.ndarray:
        ids = np.asarray(idx, dtype=np.uint64) + np.uint64(MESSAGE_ID_BASE)
        return mix64(mix64(ids ^ self._seedmix) + np.uint64(salt))

    def _placeholder_values(self, idx: np.ndarray):
        h = self._hash(idx, 1)
        name = (h % np.uint64(len(NAMES))).astype(np.int64)
        code = (h >> np.uint64(20)) % np.uint64(900000) + np.uint64(100000)
        bal = (h >> np.uint64(40)) % np.uint64(2_000_000)
        dd = (h >> np.uint64(8)) % np.uint64(28) + np.uint64(1)
        return name, code.astype(np.int64), bal.astype(np.int64), dd.astype(np.int64)

    def _segments_for(self, idx: np.ndarray) -> np.ndarray:
        camp = self.m_camp[idx]
        c_units = np.array([c.base_units for c in self.campaigns], dtype=np.int64)[camp]
        c_ucs2 = np.array([c.ucs2 for c in self.campaigns], dtype=bool)[camp]
        ph = self.campaigns
        name, _code, bal, _dd = self._placeholder_values(idx)
        name_len = np.array([len(n) for n in NAMES])[name]
        name_cyr = np.array([any(ord(ch) > 126 for ch in n) for n in NAMES])[name]
        units = c_units.copy()
        ucs2 = c_ucs2.copy()
        for key, add, cyr in (("name", name_len, name_cyr), ("date", 10, False), ("code", 6, False),
                              ("balance", np.char.str_len((bal // 100).astype(str)) + 3, False)):
            has = np.array([key in c.placeholders for c in ph], dtype=bool)[camp]
            units = units + np.where(has, add, 0)
            ucs2 = ucs2 | (has & cyr)
        return segments(units, ucs2)

    def message_texts(self, idx: np.ndarray) -> list[str]:
        name, code, bal, dd = self._placeholder_values(idx)
        out = []
        for k, i in enumerate(np.asarray(idx).tolist()):
            if i in self.msg_override:
                out.append(self.msg_override[i][1])
                continue
            c = self.campaigns[int(self.m_camp[i])]
            text = c.text
            if c.placeholders:
                y, m, d = self.fmt(c.create + 86400 * int(dd[k]))[:10].split("-")
                text = text.format_map(_Keep(name=NAMES[name[k]], code=int(code[k]),
                                             balance=f"{int(bal[k]) // 100}.{int(bal[k]) % 100:02d}",
                                             date=f"{d}.{m}.{y}"))
            out.append(text)
        return out

    def message_numbers(self, idx: np.ndarray) -> list[tuple[str, str, str]]:
        """(recipient, countryA2, operatorName) per message."""
        h = self._hash(idx, 2)
        plan = (h % np.uint64(len(NUMBER_PLANS))).astype(np.int64)
        rest = (h >> np.uint64(16)) % np.uint64(10_000_000)
        out = []
        for k, i in enumerate(np.asarray(idx).tolist()):
            if i in self.msg_override:
                to = self.msg_override[i][0]
                out.append((to, *_number_info(to)))
                continue
            country, prefix, op = NUMBER_PLANS[plan[k]]
            digits = 12 - len(prefix) if country in ("UZ", "KG") else 11 - len(prefix)
            out.append((prefix + str(int(rest[k])).zfill(7)[-digits:].zfill(digits), country, op))
        return out

    def message_uuids(self, idx: np.ndarray) -> list[str]:
        a, b = self._hash(idx, 3), self._hash(idx, 4)
        out = []
        for x, y in zip(a.tolist(), b.tolist()):
            s = f"{x:016x}{y:016x}"
            out.append(f"{s[:8]}-{s[8:12]}-4{s[13:16]}-a{s[17:20]}-{s[20:32]}")
        return out

    # ------------------------------------------------------------ state as of the clock
    def _clock_changed(self) -> None:
        self._cache = {}

    def cache(self, key, make):
        now = self.clock.ts
        if self._cache_ts != now:
            self._cache, self._cache_ts = {}, now
        v = self._cache.get(key)
        if v is None:
            if len(self._cache) > 20000:
                self._cache.clear()
            v = self._cache[key] = make()
        return v

    def invalidate(self) -> None:
        self._cache = {}

    def n_campaigns(self) -> int:
        return len(self.campaigns)

    def msg_index(self, ci: int):
        if ci in self.extra_idx:
            return self.extra_idx[ci]
        if ci + 1 < len(self.c_off):
            return np.arange(self.c_off[ci], self.c_off[ci + 1], dtype=np.int64)
        return np.zeros(0, dtype=np.int64)

    def status_at(self, idx: np.ndarray, now: int | None = None):
        """(status codes, statusUpdateTs, startSendTs or INF) for message indices as of now."""
        now = self.clock.ts if now is None else now
        st = np.zeros(len(idx), dtype=np.int8)
        ts = self.m_tnew[idx].copy()
        sst = np.full(len(idx), INF, dtype=np.int64)
        for arr, code in ((self.m_tenq, 1), (self.m_tacc, 2), (self.m_t1, None), (self.m_t2, "s2")):
            t = arr[idx]
            m = now >= t
            if code is None:
                st[m] = self.m_s1[idx][m]
            elif code == "s2":
                st[m] = self.m_s2[idx][m]
            else:
                st[m] = code
            ts[m] = t[m]
            if code == 1:
                sst[m] = t[m]
        return st, ts, sst

    def final_at(self) -> tuple[np.ndarray, np.ndarray]:
        """(final status code, the instant it is reached or INF) of every message: the first report when it is
        final, else the second (a PDLIVRD first report is followed by DELIVRD); the delivery-report webhook
        fires then."""
        first = IS_FINAL[self.m_s1]
        code = np.where(first, self.m_s1, self.m_s2)
        at = np.where(first, self.m_t1, np.where(IS_FINAL[self.m_s2], self.m_t2, INF))
        return code, at

    def visible(self, ci: int) -> bool:
        return self.campaigns[ci].create <= self.clock.ts

    def counters(self, ci: int) -> dict:
        """The gateway's counters of a campaign: per-status message counts, segments and cost (ten-thousandths).

        As of the clock, unless a realism switch says otherwise: `counter_lag_seconds` counts statuses as of
        that long ago; `done_timeout_hours` freezes the counters of a campaign whose sending ended that long
        ago, when the gateway sets it DONE whether or not every message is final (API.md 3.2)."""
        def make():
            at = self.clock.ts - self.counter_lag_seconds
            if self._timed_out(ci):
                at = min(at, self.campaigns[ci].end + int(self.done_timeout_hours * 3600))
            return self.counts_at(ci, at)
        return self.cache(("counters", ci), make)

    def counts_at(self, ci: int, at: int) -> dict:
        """The campaign's true per-status counts as of `at`."""
        idx = self.msg_index(ci)
        st, ts, _ = self.status_at(idx, at)
        seg = self.m_seg[idx].astype(np.int64)
        msg = np.bincount(st, minlength=9)
        segs = np.bincount(st, weights=seg, minlength=9).astype(np.int64)
        price = self.campaigns[ci].price
        return {"msg": msg.tolist(), "seg": segs.tolist(), "cost": (segs * price).tolist(),
                "update": int(ts.max()) if len(ts) else self.campaigns[ci].create,
                "final": bool(len(st) and IS_FINAL[st].all())}

    def _timed_out(self, ci: int) -> bool:
        c = self.campaigns[ci]
        return (self.done_timeout_hours is not None and c.sent and c.end < INF
                and self.clock.ts >= c.end + self.done_timeout_hours * 3600)

    def campaign_state(self, ci: int) -> dict:
        c = self.campaigns[ci]
        now = self.clock.ts
        cnt = self.counters(ci)
        started = c.sent and now >= c.start
        if not started:
            send_status = None
            common = "READY_FOR_SEND" if c.sent else "NEW"
        elif cnt["final"] or self._timed_out(ci):
            send_status, common = "DONE", "DONE"
        else:
            send_status = "SENT"
            common = "RUNNING" if now < c.end else "SENT"
        return {"started": started, "sendStatus": send_status, "commonStatus": common,
                "startSendTs": c.start if started else INF, "endSendTs": c.end if now >= c.end else INF}

    def link_counts(self, j: int, now: int | None = None) -> tuple[int, int]:
        now = self.clock.ts if now is None else now
        a, b = self.l_off[j], self.l_off[j + 1]
        n = int(np.searchsorted(self.k_t[a:b], now, side="right"))
        return n, int(self.k_rcum[a + n] - self.k_rcum[a])

    def link_visible(self, j: int) -> bool:
        return self.campaigns[int(self.l_camp[j])].create <= self.clock.ts

    # ------------------------------------------------------------ ground truth
    def ground_truth(self) -> dict[int, CampaignTruth]:
        """Exact per-campaign figures as of the clock, from the arrays (never through HTTP)."""
        with self.lock:
            out = {}
            for ci, c in enumerate(self.campaigns):
                if not self.visible(ci):
                    continue
                cnt = self.counts_at(ci, self.clock.ts)
                clicks = redirects = 0
                for lid in c.link_ids:
                    k, r = self.link_counts(lid - LINK_ID_BASE)
                    clicks += k
                    redirects += r
                out[CAMPAIGN_ID_BASE + ci] = CampaignTruth(
                    campaign_id=CAMPAIGN_ID_BASE + ci, campaign_type=TYPE_NAMES[c.type], sender=c.sender,
                    messages_total=int(sum(cnt["msg"])),
                    status_counts={s: int(cnt["msg"][k]) for k, s in enumerate(STATUSES)},
                    segments_total=int(sum(cnt["seg"])),
                    cost_total=Decimal(money(sum(cnt["cost"]))), clicks=clicks, redirects=redirects)
            return out

    # ------------------------------------------------------------ writes (through the API)
    def create_campaign(self, type_: int, sender: str, text: str, name: str | None, validity: int,
                        deferred: int | None, track: int) -> int:
        with self.lock:
            units, ucs2 = sms_units(text)
            placeholders = tuple(p for p in ("name", "date", "balance", "code") if "{" + p + "}" in text) \
                if type_ == 3 else ()
            c = _Campaign(type=type_, sender=sender, text=text, name=name, create=self.clock.ts, start=INF,
                          deferred=deferred, price=150_000, validity=validity, track=track, ucs2=ucs2,
                          placeholders=(), base_units=units, sent=False, generated=False)
            c.placeholders = placeholders
            self.campaigns.append(c)
            ci = len(self.campaigns) - 1
            self.extra_idx[ci] = np.zeros(0, dtype=np.int64)
            self.invalidate()
            return ci

    def add_messages(self, ci: int, recipients: list[tuple[str, str]]) -> list[int]:
        """Append NEW messages for (recipient, text) pairs; returns their indices."""
        with self.lock:
            n0, n = len(self.m_camp), len(recipients)
            c = self.campaigns[ci]
            new = np.arange(n0, n0 + n, dtype=np.int64)
            self.m_camp = np.concatenate([self.m_camp, np.full(n, ci, dtype=np.int32)])
            self.m_tnew = np.concatenate([self.m_tnew, np.full(n, self.clock.ts, dtype=np.int64)])
            for name in ("m_tenq", "m_tacc", "m_t1", "m_t2"):
                setattr(self, name, np.concatenate([getattr(self, name), np.full(n, INF, dtype=np.int64)]))
            segs = []
            for k, (to, text) in enumerate(recipients):
                self.msg_override[n0 + k] = (to, text)
                segs.append(int(segments(*sms_units(text))))
            self.m_seg = np.concatenate([self.m_seg, np.array(segs, dtype=np.int8)])
            self.m_s1 = np.concatenate([self.m_s1, np.full(n, ST["DELIVRD"], dtype=np.int8)])
            self.m_s2 = np.concatenate([self.m_s2, np.full(n, ST["DELIVRD"], dtype=np.int8)])
            self.extra_idx[ci] = np.concatenate([self.extra_idx.get(ci, np.zeros(0, np.int64)), new])
            self.balance -= int(np.sum(self.m_seg[new].astype(np.int64))) * c.price
            self.invalidate()
            return new.tolist()

    def send_campaign(self, ci: int) -> None:
        """Schedule the campaign's messages from now (or its deferred time)."""
        with self.lock:
            c = self.campaigns[ci]
            now = self.clock.ts
            c.sent = True
            c.start = max(now + 1, c.deferred or 0)
            idx = self.extra_idx.get(ci, np.zeros(0, np.int64))
            r = np.random.default_rng([self.seed, 7_000_001, ci])
            n = len(idx)
            self.m_tenq[idx] = c.start + np.arange(n) // 50 + r.integers(0, 3, size=n)
            self.m_tacc[idx] = self.m_tenq[idx] + r.integers(1, 10, size=n)
            self.m_t1[idx] = self.m_tacc[idx] + r.integers(2, 120, size=n)
            u = r.random(n)
            s = np.full(n, ST["DELIVRD"], dtype=np.int8)
            s[u < 0.08] = ST["UNDELIV"]
            s[(u >= 0.08) & (u < 0.1)] = ST["REJECTD"]
            self.m_s1[idx] = s
            self.m_s2[idx] = s
            c.end = int(self.m_tacc[idx].max()) if n else c.start
            self.invalidate()


class _Keep(dict):
    def __missing__(self, key):
        return "{" + key + "}"


def _link_code(link_id: int) -> str:
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    x = int(mix64(np.array([link_id], dtype=np.uint64))[0]) % (len(alphabet) ** 4)
    s = ""
    for _ in range(4):
        x, r = divmod(x, len(alphabet))
        s += alphabet[r]
    return s


def _number_info(to: str) -> tuple[str | None, str | None]:
    for country, prefix, op in NUMBER_PLANS:
        if to.startswith(prefix):
            return country, op
    return None, None

"""Benchmark: a POI change set of 100,000 rows validated and applied against 1,000,000 POIs.

    .venv/bin/python bench/poi.py [--existing N] [--rows M] [--keep]

Target (issue 4): submitting (read, validate, convert, duplicate and offset checks) and applying
a change set of 100,000 rows against 1,000,000 existing POIs completes in under 60 s on 2 cores.

Setup (once, kept for the next run, not timed): a POI layer `bench-poi` owned by a department
`bench` (users `bench-collector`, `bench-reviewer`) holding N synthetic POIs with their first
versions, written straight with COPY. They cluster around the towns of Bayingolin and Wuhai like
real POIs do (Gaussian around each seat, σ 4 km for Korla and Wuhai, 1.2 km for the other seats,
plus 30 % scattered): about 1,800 POIs per km² in central Korla, so a new point there has about
130 existing POIs within the 150 m duplicate distance. Names are random shop names
(2–3 characters of a 150-character pool + a kind + sometimes a branch), like the real mix.

The change set (a WGS84 CSV, fixed seed): 60 % new POIs, 5 % near-duplicates of existing POIs
(the same name in traditional characters or with a branch suffix, 5–40 m away: flagged),
30 % updates of existing ids (phone, hours; a tenth also moved by a few metres), 5 % deletions.

Timed, each a child process as a user runs it (times include starting Django):
  submit   geoplatform poi submit FILE --by bench-collector --crs WGS84
  review   geoplatform poi approve CS --all --by bench-reviewer; then reject the flagged ones
  apply    geoplatform poi apply CS --by bench-reviewer
  revert   geoplatform poi revert CS (restores the 1M state for the next run; reported, not in the target)
The bench prints seconds and rows/s per step and submit+apply against the 60 s target.
"""

import argparse
import csv
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["GEOPLATFORM_POI_LAYER"] = "bench-poi"
os.environ["GEOPLATFORM_POI_DEPARTMENT"] = "bench"
GEOPLATFORM = str(Path(sys.executable).with_name("geoplatform"))

TOWNS = [  # lon, lat, share, sigma km
    (86.15, 41.76, 0.25, 4.0), (106.82, 39.67, 0.13, 4.0), (106.89, 39.44, 0.04, 1.2), (106.70, 39.50, 0.04, 1.2),
    (84.25, 41.78, 0.03, 1.2), (86.26, 41.34, 0.03, 1.2), (88.17, 39.02, 0.02, 1.2), (85.53, 38.14, 0.02, 1.2),
    (86.57, 42.06, 0.04, 1.2), (86.39, 42.32, 0.04, 1.2), (86.86, 42.27, 0.03, 1.2), (86.63, 41.98, 0.03, 1.2),
]
SCATTER = (85.5, 41.0, 87.0, 42.5)
POOL = ("鑫源福盛祥华泰丰隆恒达兴旺顺发金银玉龙凤天地和美佳乐康安宁宏伟强博新月星辰海湖山川江河云雪梅兰竹菊春夏"
        "秋冬东西南北红蓝白绿紫阳光明亮清香甜蜜喜悦欢庆吉利富贵永昌荣华锦绣嘉禾瑞雪丰收胜利团结友谊光辉前进"
        "巴音郭楞孔雀梨城塔里木昆仑天山博斯腾罗布楼兰乌海甘德尔黄河沙漠绿洲丝路驼铃胡杨红柳")
KINDS = [("餐厅", "restaurant"), ("饭店", "restaurant"), ("宾馆", "hotel"), ("超市", "shopping"), ("药店", "pharmacy"),
         ("诊所", "clinic"), ("奶茶", "cafe"), ("烧烤", "restaurant"), ("银行", "bank"), ("民宿", "guesthouse"),
         ("加油站", "fuel"), ("商店", "shopping"), ("幼儿园", "kindergarten"), ("停车场", "parking")]
ROADS = "人民 建设 天山 石化 萨依巴格 团结 交通 海北 滨河 黄河 新华 友谊".split()
TRADITIONAL = str.maketrans("龙凤东乐宁伟强云兰春达兴顺发银丰隆恒华祥杨红长门关", "龍鳳東樂寧偉強雲蘭春達興順發銀豐隆恆華祥楊紅長門關")


def name(rng: random.Random) -> tuple[str, str]:
    brand = "".join(rng.choice(POOL) for _ in range(rng.choice((2, 2, 3))))
    kind, category = rng.choice(KINDS)
    branch = f"（{rng.choice(ROADS)}路店）" if rng.random() < 0.3 else ""
    return brand + kind + branch, category


def position(rng: random.Random) -> tuple[float, float]:
    if rng.random() < 0.3:
        return rng.uniform(SCATTER[0], SCATTER[2]), rng.uniform(SCATTER[1], SCATTER[3])
    r = rng.random()
    for lon, lat, share, sigma in TOWNS:
        r -= share
        if r <= 0:
            break
    import math
    return (lon + rng.gauss(0, sigma) / (111.32 * math.cos(math.radians(lat))), lat + rng.gauss(0, sigma) / 110.57)


def setup(existing: int) -> list[tuple]:
    """The bench layer with `existing` POIs (made once); returns (poi_id, name, lon, lat) of each."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone
    from psycopg import sql
    from psycopg.types.json import Jsonb

    from ingest.poi import store
    from ingest.poi.models import ChangeSet
    from ingest.poi.names import normalise_many
    from layers import storage
    from layers.models import Department

    dept, _ = Department.objects.get_or_create(code="bench", defaults={"name": "基准测试", "name_en": "Benchmark"})
    users = {}
    for username in ("bench-collector", "bench-reviewer"):
        users[username], _ = get_user_model().objects.get_or_create(username=username)
        dept.members.add(users[username])
    rng = random.Random(4)
    pois = []
    for i in range(existing):
        n, category = name(rng)
        lon, lat = position(rng)
        pois.append((f"b{i:07d}", n, category, round(lon, 7), round(lat, 7)))
    layer = store.get_layer()
    if layer is not None and layer.feature_count == existing:
        return pois
    if layer is not None:
        sys.exit(f"layer bench-poi holds {layer.feature_count} POIs, not {existing}: delete it first "
                 "(geoplatform shell: Layer.objects.get(slug='bench-poi').delete(); and its change sets)")
    print(f"setup: writing {existing:,} POIs and their first versions …", flush=True)
    started = time.perf_counter()
    keys = normalise_many([p[1] for p in pois])
    with transaction.atomic():
        layer = store.ensure_layer()
        cs = ChangeSet.objects.create(layer_slug=layer.slug, source_name="bench setup", origin_crs="WGS84",
                                      submitted_by=users["bench-collector"], status=ChangeSet.Status.APPLIED,
                                      applied_by=users["bench-reviewer"], applied_at=timezone.now())
        now = timezone.now()
        cur = connection.cursor().cursor
        cols = ["poi_id", "name", "category", "category_group", "status", "origin_crs", "name_key", "version",
                "changeset", "updated_at", "geom"]
        with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(
                store.qualified(), sql.SQL(", ").join(map(sql.Identifier, cols)))) as copy:
            for (poi_id, n, category, lon, lat), key in zip(pois, keys):
                copy.write_row([poi_id, n, category, store.category_group(category), "active", "WGS84", key, 1,
                                cs.pk, now, f"SRID=4490;MULTIPOINT({lon!r} {lat!r})"])
        with cur.copy("COPY poi_poiversion (poi_id, version, changeset_id, op, deleted, data, geom, valid_from, "
                      "author_id) FROM STDIN") as copy:
            for poi_id, n, category, lon, lat in pois:
                data = {"name": n, "category": category, "category_group": store.category_group(category),
                        "status": "active", "origin_crs": "WGS84"}
                copy.write_row([poi_id, 1, cs.pk, "add", False, Jsonb(data), f"SRID=4490;POINT({lon!r} {lat!r})", now,
                                users["bench-reviewer"].pk])
        cur.execute(sql.SQL("ANALYZE {}").format(store.qualified()))
        cur.execute("ANALYZE poi_poiversion")
        count, box = storage.table_stats(store.table())
        layer.feature_count = count
        layer.save()
    print(f"setup: {time.perf_counter() - started:.1f} s", flush=True)
    return pois


def write_batch(path: Path, pois: list[tuple], rows: int) -> dict:
    rng = random.Random(8)
    counts = {"add": 0, "near-duplicate": 0, "update": 0, "delete": 0}
    picked = rng.sample(range(len(pois)), int(rows * 0.40))
    dup_ids, upd_ids, del_ids = (picked[: int(rows * 0.05)], picked[int(rows * 0.05): int(rows * 0.35)],
                                 picked[int(rows * 0.35):])
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["op", "id", "name", "category", "lon", "lat", "phone", "opening_hours", "verified_at"])
        for _ in range(rows - len(picked)):
            n, category = name(rng)
            lon, lat = position(rng)
            w.writerow(["add", "", n, category, f"{lon:.7f}", f"{lat:.7f}", f"1390{rng.randrange(10**7):07d}", "", ""])
            counts["add"] += 1
        for i in dup_ids:
            _, n, category, lon, lat = pois[i]
            variant = n.translate(TRADITIONAL) if rng.random() < 0.5 else n + "（新店）"
            d = rng.uniform(5, 40) / 111000
            w.writerow(["add", "", variant, category, f"{lon + d:.7f}", f"{lat:.7f}", "", "", ""])
            counts["near-duplicate"] += 1
        for i in upd_ids:
            poi_id, _, _, lon, lat = pois[i]
            moved = rng.random() < 0.1
            w.writerow(["update", poi_id, "", "", f"{lon + 0.00003:.7f}" if moved else "", f"{lat:.7f}" if moved else "",
                        f"0996-{rng.randrange(10**7):07d}", "10:00-22:00", "2026-11-01"])
            counts["update"] += 1
        for i in del_ids:
            w.writerow(["delete", pois[i][0], "", "", "", "", "", "", ""])
            counts["delete"] += 1
    return counts


def run(step: str, *args) -> tuple[float, str]:
    env = os.environ | {"GEOPLATFORM_POI_LAYER": "bench-poi", "GEOPLATFORM_POI_DEPARTMENT": "bench"}
    started = time.perf_counter()
    proc = subprocess.run([GEOPLATFORM, "poi", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{step} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--existing", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="leave the change set applied (no revert)")
    args = parser.parse_args()
    pois = setup(args.existing)
    path = ROOT / ".data" / "bench" / f"poi-batch-{args.rows}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = write_batch(path, pois, args.rows)
    print(f"bench/poi.py  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  {os.cpu_count()} cores  "
          f"{args.existing:,} existing POIs  change set of {args.rows:,} rows: "
          + ", ".join(f"{v:,} {k}" for k, v in counts.items()), flush=True)

    t_submit, out = run("submit", "submit", path, "--by", "bench-collector", "--crs", "WGS84", "--json")
    import json
    report = json.loads(out)
    cs = report["changeset"]
    t_approve, out = run("approve", "approve", cs, "--all", "--by", "bench-reviewer")
    t_reject, _ = run("reject", "reject", cs, "--all", "--by", "bench-reviewer")  # the flagged rest
    t_apply, out = run("apply", "apply", cs, "--by", "bench-reviewer")
    rows = args.rows
    print(f"{'step':<8} {'seconds':>8} {'rows/s':>10}")
    for step, t in (("submit", t_submit), ("review", t_approve + t_reject), ("apply", t_apply)):
        print(f"{step:<8} {t:8.1f} {rows / t:10,.0f}")
    total = t_submit + t_apply
    print(f"submit + apply: {total:.1f} s = {rows / total:,.0f} rows/s (target < 60 s: "
          f"{'met' if total < 60 else 'NOT met'}); possible duplicates flagged: {report['duplicates_flagged']:,}; "
          f"offset warning: {'yes' if report.get('offset') else 'no'}")
    print(out.strip())
    if not args.keep:
        t_revert, out = run("revert", "revert", cs, "--by", "bench-reviewer")
        print(f"revert   {t_revert:8.1f} {rows / t_revert:10,.0f}   ({out.strip()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

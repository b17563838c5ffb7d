"""Django settings. Everything deployment-specific comes from the environment:

DATABASE_URL            an external PostGIS server (default: the project-local cluster under .data/)
GEOPLATFORM_PG_PORT     port of the project-local cluster (default 55432)
GEOPLATFORM_DATA_DIR    where the local cluster, secret key, media and static files live (default ./.data)
GEOPLATFORM_RASTER_DIR  raster layers' COG files (default DATA_DIR/rasters; shared storage)
GEOPLATFORM_TILES_DIR   generated MapServer/MapProxy files and the tile caches (default DATA_DIR/tiles;
                        shared storage when several servers run)
GEOPLATFORM_DEBUG       1 for development error pages (default off)
GEOPLATFORM_SECRET_KEY  overrides the generated key in .data/secret_key
GEOPLATFORM_ALLOWED_HOSTS  comma-separated (default localhost names)
GEOPLATFORM_HTTPS       1 behind a TLS proxy: secure cookies, HSTS
GEOPLATFORM_CSRF_TRUSTED_ORIGINS  comma-separated origins, e.g. https://gis.example.gov.cn
"""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("GEOPLATFORM_DATA_DIR", BASE_DIR / ".data"))
TILES_DIR = Path(os.environ.get("GEOPLATFORM_TILES_DIR") or DATA_DIR / "tiles")
# Raster layers' Cloud-Optimised GeoTIFFs: storage every web server, worker and renderer shares.
RASTER_DIR = Path(os.environ.get("GEOPLATFORM_RASTER_DIR") or DATA_DIR / "rasters")

DEBUG = os.environ.get("GEOPLATFORM_DEBUG", "") in {"1", "true", "yes"}


def _secret_key() -> str:
    if key := os.environ.get("GEOPLATFORM_SECRET_KEY"):
        return key
    # One key shared by every worker of this installation, so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = os.environ.get("GEOPLATFORM_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "geoplatform",
    "procrastinate.contrib.django",  # background jobs in PostgreSQL: no other broker
    "layers",
    "ingest",
    "ingest.poi",
    "tiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "layers.tokens.TokenAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "geoplatform.urls"
WSGI_APPLICATION = "geoplatform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def local_database_url() -> str:
    """The project-local cluster, reached through its own socket directory (trust auth, 0700 dir)."""
    port = os.environ.get("GEOPLATFORM_PG_PORT", "55432")
    socket_dir = str(DATA_DIR / "run").replace("/", "%2F")
    return f"postgis://geoplatform@{socket_dir}:{port}/geoplatform"


DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or local_database_url(),
        engine="django.contrib.gis.db.backends.postgis",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# Web requests are many and short: parallel query workers only add start-up cost on small
# machines (measured in bench/features.py). Loads and index builds are unaffected.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c max_parallel_workers_per_gather=0"
# Separate test databases let two checkouts (or two suites) share one server.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("GEOPLATFORM_TEST_DB_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Chinese first; English for visitors; Uyghur (Arabic script, right to left).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English"), ("ug", "ئۇيغۇرچە")]
LOCALE_PATHS = [BASE_DIR / "geoplatform" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Map libraries come from npm (package.json; `make setup` copies them here), never from a CDN:
# users may sit on closed government networks.
STATICFILES_DIRS = [("vendor", DATA_DIR / "vendor")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("GEOPLATFORM_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
if os.environ.get("GEOPLATFORM_HTTPS", "") in {"1", "true", "yes"}:
    # Behind a TLS-terminating proxy (nginx) that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000

# Platform settings.
GEOPLATFORM = {
    "STORAGE_SRID": 4490,  # CGCS2000 geographic: every vector layer is stored in it
    "DATA_SCHEMA": "data",  # one PostGIS table per vector layer lives here, apart from Django's tables
    # Features outside these lon/lat boxes are refused at ingest (wrong CRS, zone or swapped axes):
    # Bayingolin and Wuhai with a margin of about half a degree.
    "REGION_BOUNDS": [(81.5, 35.0, 94.0, 44.0), (106.0, 38.8, 107.8, 40.4)],
    # Named datum shifts for legacy Xi'an 1980 / Beijing 1954 data: name -> "dx,dy,dz[,rx,ry,rz,s]".
    # Never guessed: surveyors enter the locally published parameters.
    "TOWGS84": {},
    # Boundary layers (public, with an `adcode` column) for queries by administrative unit.
    "ADMIN_LAYERS": ["admin-counties", "admin-prefectures"],
    # Requests per minute per API token (a token's own `rate_limit` overrides it).
    "TOKEN_RATE_LIMIT": int(os.environ.get("GEOPLATFORM_TOKEN_RATE_LIMIT", "600")),
    # Points of interest (ingest/poi, docs/poi.md): the layer change sets apply to, its owner
    # department (whose members review), and the checks' thresholds.
    "POI": {
        "LAYER": os.environ.get("GEOPLATFORM_POI_LAYER", "poi"),
        "TITLE_ZH": "兴趣点",
        "TITLE_EN": "Points of interest",
        "DEPARTMENT": os.environ.get("GEOPLATFORM_POI_DEPARTMENT", "wlj"),
        "ACCESS": "public",
        "DUPLICATE_DISTANCE_M": 150,  # candidates for "same place" within this distance
        "OFFSET_MIN_MATCHES": 5,  # matched POIs needed before judging a batch offset
        "STALE_DAYS": 365,  # unverified for longer than this: stale
    },
}

# Uploads live on storage every web server and worker shares (MEDIA_ROOT: NFS or similar).
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 2**20
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# GDAL < 3.9 warning (Debian 12 ships 3.6): harmless, printed on every command otherwise.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

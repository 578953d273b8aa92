/* websub: YouTube push notifications: subscriptions, intent verification, signed Atom feeds, invalidation. */
#include "config.h"
#include "websub.h"
#include "conf.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "ycurl.h"

#include <expat.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TOPIC_PREFIX "https://www.youtube.com/xml/feeds/videos.xml?channel_id="
#define NS_YT "http://www.youtube.com/xml/schemas/2015"
#define NS_ATOM "http://www.w3.org/2005/Atom"
#define NS_AT "http://purl.org/atompub/tombstones/1.0"

/* ---- Atom parsing ---------------------------------------------------------- */

/* The element whose text is being collected inside an entry. */
enum field { F_NONE, F_VIDEO_ID, F_CHANNEL_ID, F_BY_URI /* deleted-entry's <by><uri> */ };

struct parse {
    XML_Parser xp;
    struct websub_entry *entries;
    size_t max, n;
    int depth;
    int in_entry;                /* depth of the open <entry>/<deleted-entry>, 0 if none */
    enum field field;
    char text[128];
    size_t tlen;
    int failed;
    char why[96];
};

static int name_is(const char *name, const char *ns, const char *local)
{
    size_t nl = strlen(ns);
    return strncmp(name, ns, nl) == 0 && name[nl] == '|' && strcmp(name + nl + 1, local) == 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct parse *p = ud;
    p->depth++;
    if (p->depth > 16) {
        snprintf(p->why, sizeof p->why, "nesting too deep");
        p->failed = 1;
        XML_StopParser(p->xp, XML_FALSE);
        return;
    }
    int is_entry = name_is(name, NS_ATOM, "entry");
    int is_deleted = name_is(name, NS_AT, "deleted-entry");
    if ((is_entry || is_deleted) && !p->in_entry) {
        if (p->n >= p->max) {
            snprintf(p->why, sizeof p->why, "too many entries");
            p->failed = 1;
            XML_StopParser(p->xp, XML_FALSE);
            return;
        }
        memset(&p->entries[p->n], 0, sizeof p->entries[0]);
        p->entries[p->n].deleted = is_deleted;
        p->in_entry = p->depth;
        if (is_deleted) {
            /* ref="yt:video:VIDEO_ID" */
            for (int i = 0; attrs[i]; i += 2)
                if (strcmp(attrs[i], "ref") == 0 && strncmp(attrs[i + 1], "yt:video:", 9) == 0)
                    util_copy(p->entries[p->n].video_id, sizeof p->entries[0].video_id, attrs[i + 1] + 9);
        }
        return;
    }
    if (!p->in_entry)
        return;
    p->field = name_is(name, NS_YT, "videoId") ? F_VIDEO_ID
             : name_is(name, NS_YT, "channelId") ? F_CHANNEL_ID
             : (p->entries[p->n].deleted && name_is(name, NS_ATOM, "uri")) ? F_BY_URI : F_NONE;
    p->tlen = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parse *p = ud;
    if (!p->field)
        return;
    if (p->tlen + (size_t)len >= sizeof p->text) {
        p->field = F_NONE;  /* too long for an id: ignore the field */
        return;
    }
    memcpy(p->text + p->tlen, s, (size_t)len);
    p->tlen += (size_t)len;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct parse *p = ud;
    if (p->in_entry && p->field) {
        struct websub_entry *e = &p->entries[p->n];
        p->text[p->tlen] = '\0';
        if (p->field == F_VIDEO_ID)
            util_copy(e->video_id, sizeof e->video_id, p->text);
        else if (p->field == F_CHANNEL_ID)
            util_copy(e->channel_id, sizeof e->channel_id, p->text);
        else if (p->field == F_BY_URI) {
            /* https://www.youtube.com/channel/UC... */
            const char *slash = strrchr(p->text, '/');
            if (slash)
                util_copy(e->channel_id, sizeof e->channel_id, slash + 1);
        }
        p->field = F_NONE;
    }
    if (p->in_entry && p->depth == p->in_entry) {
        struct websub_entry *e = &p->entries[p->n];
        /* keep only entries whose ids have the right shape */
        if (util_all_in(e->video_id, UTIL_B64URL, 11, 11) &&
            (!e->channel_id[0] || util_all_in(e->channel_id, UTIL_B64URL, 24, 24)))
            p->n++;
        p->in_entry = 0;
    }
    (void)name;
    p->depth--;
}

/* A feed never has a DOCTYPE; refusing it refuses entity definitions and so
 * every entity-expansion attack. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal)
{
    struct parse *p = ud;
    (void)name; (void)sysid; (void)pubid; (void)has_internal;
    snprintf(p->why, sizeof p->why, "DOCTYPE not allowed");
    p->failed = 1;
    XML_StopParser(p->xp, XML_FALSE);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int pe, const XML_Char *value, int vlen,
                                   const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    struct parse *p = ud;
    (void)name; (void)pe; (void)value; (void)vlen; (void)base; (void)sysid; (void)pubid; (void)notation;
    snprintf(p->why, sizeof p->why, "entity declarations not allowed");
    p->failed = 1;
    XML_StopParser(p->xp, XML_FALSE);
}

int websub_parse_atom(const char *body, size_t len, struct websub_entry *entries, size_t max, size_t *n,
                      char *err, size_t errlen)
{
    struct parse p;
    memset(&p, 0, sizeof p);
    p.entries = entries;
    p.max = max;
    *n = 0;
    if (len > (size_t)1 << 30) {
        snprintf(err, errlen, "body too large");
        return -1;
    }
    p.xp = XML_ParserCreateNS(NULL, '|');
    if (!p.xp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    XML_SetUserData(p.xp, &p);
    XML_SetElementHandler(p.xp, on_start, on_end);
    XML_SetCharacterDataHandler(p.xp, on_text);
    XML_SetStartDoctypeDeclHandler(p.xp, on_doctype);
    XML_SetEntityDeclHandler(p.xp, on_entity_decl);
    XML_SetParamEntityParsing(p.xp, XML_PARAM_ENTITY_PARSING_NEVER);
    int ok = XML_Parse(p.xp, body, (int)len, XML_TRUE) == XML_STATUS_OK;
    if (!ok && !p.failed)
        snprintf(p.why, sizeof p.why, "%s at line %lu", XML_ErrorString(XML_GetErrorCode(p.xp)),
                 (unsigned long)XML_GetCurrentLineNumber(p.xp));
    XML_ParserFree(p.xp);
    if (!ok || p.failed) {
        snprintf(err, errlen, "malformed feed: %s", p.why);
        return -1;
    }
    *n = p.n;
    return 0;
}

int websub_signature_ok(const char *secret, const char *body, size_t len, const char *header)
{
    if (!secret || !*secret || !header || strncasecmp(header, "sha1=", 5) != 0)
        return 0;
    const char *hex = header + 5;
    if (strlen(hex) != 40)
        return 0;
    unsigned char mac[UTIL_SHA1_LEN], given[UTIL_SHA1_LEN];
    util_hmac_sha1(secret, strlen(secret), body, len, mac);
    if (util_unhex(hex, 40, given) < 0)
        return 0;
    return util_equal_ct(mac, given, sizeof mac);
}

/* ---- the endpoint ------------------------------------------------------------ */

/* One query parameter, percent-decoded into out; 0 found, -1 not (or malformed). */
static int query_param(const char *qs, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = qs;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            /* a control byte (%00 too) is refused like a bad escape */
            size_t w;
            int bad = util_pct_decode(p + nl + 1, len - nl - 1, out, outlen, &w) < 0;
            for (size_t i = 0; !bad && i < w; i++)
                bad = (unsigned char)out[i] < 0x20;
            if (bad)
                out[0] = '\0';     /* the callers may log what they got: never a partial value */
            return bad ? -1 : 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

static void answer(struct websub_answer *a, int status, const char *text)
{
    a->status = status;
    a->ctype = "text/plain; charset=UTF-8";
    buf_reset(&a->body);
    buf_appends(&a->body, text);
}

struct sub {
    char channel[32];
    char topic[256];
    char secret[65];
    char state[17];
    int found;
};

static int load_sub(struct db *d, const char *channel, struct sub *s, char *err, size_t errlen)
{
    static const struct db_stmt sql = DB_STMT("SELECT topic, secret, state FROM websub_subs WHERE channel_id = ?");
    MYSQL_BIND p[1], r[3];
    unsigned long clen = strlen(channel), l[3] = { 0 };
    my_bool n[3] = { 0 };
    int has_row = 0;
    memset(s, 0, sizeof *s);
    util_copy(s->channel, sizeof s->channel, channel);
    db_bind_str(&p[0], channel, &clen);
    db_bind_out_str(&r[0], s->topic, sizeof s->topic - 1, &l[0], &n[0]);
    db_bind_out_str(&r[1], s->secret, sizeof s->secret - 1, &l[1], &n[1]);
    db_bind_out_str(&r[2], s->state, sizeof s->state - 1, &l[2], &n[2]);
    if (db_row(d, &sql, p, r, &has_row, err, errlen) < 0)
        return -1;
    if (!has_row)
        return 0;
    s->topic[l[0] < sizeof s->topic ? l[0] : sizeof s->topic - 1] = '\0';
    s->secret[l[1] < sizeof s->secret ? l[1] : sizeof s->secret - 1] = '\0';
    s->state[l[2] < sizeof s->state ? l[2] : sizeof s->state - 1] = '\0';
    s->found = 1;
    return 1;
}

/* The callback's path token: the first 16 bytes of HMAC-SHA256 over the
 * channel id, keyed with the subscription's own secret, in hex. Derived, so
 * no column or migration; per subscription, so one leaked callback URL says
 * nothing of the others. out: WEBSUB_TOKEN_LEN + 1 bytes. */
static int callback_token(const char *secret, const char *channel, char *out)
{
    unsigned char mac[UTIL_SHA256_LEN];
    char msg[64];
    int n = snprintf(msg, sizeof msg, "ytcache websub callback %s", channel);
    if (!*secret || n < 0 || (size_t)n >= sizeof msg)
        return -1;
    util_hmac_sha256(secret, strlen(secret), msg, (size_t)n, mac);
    util_hex(mac, WEBSUB_TOKEN_LEN / 2, out);
    return 0;
}

static int token_shaped(const char *token)
{
    return token && util_all_in(token, "0123456789abcdef", WEBSUB_TOKEN_LEN, WEBSUB_TOKEN_LEN);
}

/* 1 if the request's path token is this subscription's, compared in constant time. */
static int token_ok(const struct sub *s, const char *token)
{
    char want[WEBSUB_TOKEN_LEN + 1];
    if (!token || strlen(token) != WEBSUB_TOKEN_LEN || callback_token(s->secret, s->channel, want) < 0)
        return 0;
    return util_equal_ct(want, token, WEBSUB_TOKEN_LEN);
}

/* A refused request: one log line per burst (a scan must not flood the log). */
static void refuse(struct websub_answer *a, int status, const char *what, const char *channel)
{
    log_burst(LOG_SLOT_WEBSUB, 60, YLOG_WARN, "websub: refused %s for channel %s", what,
              channel && *channel ? channel : "(none)");
    answer(a, status, status == 404 ? "unknown subscription\n" : "ignored\n");
}

/* Honour the intent: only a subscription whose request is outstanding (pending, or an
 * active one renewed since its last verification) and recent; the lease is never longer
 * than asked for. 1 done, 0 nothing matched, -1 database error. */
static int apply_intent(struct db *d, const struct conf *c, const char *channel, int subscribe, long long lease,
                        char *err, size_t errlen)
{
    static const struct db_stmt sql_active = DB_STMT(
        "UPDATE websub_subs SET state = 'active', verified_at = UTC_TIMESTAMP(), lease_seconds = ?,"
        " lease_expires_at = UTC_TIMESTAMP() + INTERVAL ? SECOND, last_error = NULL WHERE channel_id = ?"
        " AND (state = 'pending' OR (state = 'active' AND verified_at < requested_at))"
        " AND requested_at >= UTC_TIMESTAMP() - INTERVAL ? SECOND");
    static const struct db_stmt sql_gone = DB_STMT(
        "DELETE FROM websub_subs WHERE channel_id = ? AND state = 'unsubscribing'"
        " AND requested_at >= UTC_TIMESTAMP() - INTERVAL ? SECOND");
    MYSQL_BIND p[4];
    unsigned long clen = strlen(channel);
    long long window = c->websub_verify_window;
    unsigned long long n = 0;
    int rc;
    if (subscribe) {
        db_bind_long(&p[0], &lease);
        db_bind_long(&p[1], &lease);
        db_bind_str(&p[2], channel, &clen);
        db_bind_long(&p[3], &window);
        rc = db_run_affected(d, &sql_active, p, &n, err, errlen);
    } else {
        db_bind_str(&p[0], channel, &clen);
        db_bind_long(&p[1], &window);
        rc = db_run_affected(d, &sql_gone, p, &n, err, errlen);
    }
    return rc < 0 ? -1 : n > 0;
}

void websub_verify_intent(struct db *d, const struct conf *c, const char *qs, const char *token,
                          struct websub_answer *a)
{
    char mode[16], topic[300], challenge[1024], lease[16], channel[32], err[UTIL_ERRLEN];
    channel[0] = '\0';
    /* a path without a token of the right shape costs no database read */
    if (query_param(qs, "hub.mode", mode, sizeof mode) < 0 || query_param(qs, "hub.topic", topic, sizeof topic) < 0 ||
        query_param(qs, "hub.challenge", challenge, sizeof challenge) < 0 ||
        query_param(qs, "channel", channel, sizeof channel) < 0 || !util_all_in(channel, UTIL_B64URL, 24, 24) ||
        !challenge[0] || !token_shaped(token)) {
        refuse(a, 404, "intent", util_all_in(channel, UTIL_B64URL, 24, 24) ? channel : "");
        metrics_websub("intent_refused", 1);
        return;
    }
    struct sub s;
    int found = load_sub(d, channel, &s, err, sizeof err);
    if (found < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "websub: %s", err);
        answer(a, 503, "database unavailable\n");
        return;
    }
    int subscribe = strcmp(mode, "subscribe") == 0, unsubscribe = strcmp(mode, "unsubscribe") == 0;
    /* only a topic we asked for, at its own callback, in the direction we asked for */
    if (!found || !token_ok(&s, token) || strcmp(s.topic, topic) != 0 || (!subscribe && !unsubscribe)) {
        refuse(a, 404, subscribe ? "subscribe intent" : unsubscribe ? "unsubscribe intent" : "intent", channel);
        metrics_websub("intent_refused", 1);
        return;
    }
    /* a lease longer than we asked for would let ytcache-refresh skip a renewal the hub needs */
    long lease_s = 0;
    if (query_param(qs, "hub.lease_seconds", lease, sizeof lease) == 0)
        util_parse_long(lease, 0, 100 * UTIL_DAY_SECS, &lease_s);
    long long ls = lease_s > 0 && lease_s < c->websub_lease ? lease_s : c->websub_lease;
    int rc = apply_intent(d, c, channel, subscribe, ls, err, sizeof err);
    if (rc < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "websub: %s", err);
        answer(a, 503, "database unavailable\n");
        return;
    }
    if (rc == 0) {      /* active already, or requested too long ago: a replay */
        refuse(a, 404, subscribe ? "stale or replayed subscribe intent" : "stale unsubscribe intent", channel);
        metrics_websub("intent_refused", 1);
        return;
    }
    log_msg(YLOG_INFO, "websub: %s verified for channel %s (lease %lld s)", mode, channel, ls);
    metrics_websub("intent_verified", 1);
    answer(a, 200, challenge);
}

long long websub_invalidate(struct db *d, const struct conf *c, const char *channel_id, const char *video_id,
                            char *err, size_t errlen)
{
    /* Past stale_while_revalidate, so the next request fetches at once;
     * the old copy still serves if the fetch fails (stale_if_error). Rows
     * already that far gone are left alone, so the counts are real changes. */
    static const char sql_channel[] =
        "UPDATE cache SET expires_at = LEAST(expires_at, UTC_TIMESTAMP() - INTERVAL ? SECOND)"
        " WHERE endpoint IN ('search', 'activities') AND channel_id = ?"
        " AND expires_at > UTC_TIMESTAMP() - INTERVAL ? SECOND";
    static const char sql_uploads[] =
        "UPDATE cache SET expires_at = LEAST(expires_at, UTC_TIMESTAMP() - INTERVAL ? SECOND)"
        " WHERE endpoint = 'playlistItems' AND playlist_id = ? AND expires_at > UTC_TIMESTAMP() - INTERVAL ? SECOND";
    static const char sql_id[] =
        "UPDATE cache SET expires_at = LEAST(expires_at, UTC_TIMESTAMP() - INTERVAL ? SECOND)"
        " WHERE endpoint = ? AND id = ? AND expires_at > UTC_TIMESTAMP() - INTERVAL ? SECOND";
    static const char sql_ids[] =
        "UPDATE cache c JOIN cache_ids i ON i.cache_key = c.cache_key"
        " SET c.expires_at = LEAST(c.expires_at, UTC_TIMESTAMP() - INTERVAL ? SECOND)"
        " WHERE i.id = ? AND c.expires_at > UTC_TIMESTAMP() - INTERVAL ? SECOND";
    /* the texts stay plain arrays: tests/integration/websub.py EXPLAINs them from this source */
    static const struct db_stmt inv_channel = DB_STMT(sql_channel), inv_uploads = DB_STMT(sql_uploads),
                                inv_id = DB_STMT(sql_id), inv_ids = DB_STMT(sql_ids);
    long long past = c->swr + 1, total = 0;
    unsigned long long n = 0;
    MYSQL_BIND p[4];
    unsigned long l1, l2;
    if (channel_id && util_all_in(channel_id, UTIL_B64URL, 24, 24)) {
        char uploads[32];
        snprintf(uploads, sizeof uploads, "UU%s", channel_id + 2);   /* the channel's uploads playlist */
        l1 = strlen(channel_id);
        db_bind_long(&p[0], &past);
        db_bind_str(&p[1], channel_id, &l1);
        db_bind_long(&p[2], &past);
        if (db_run_affected(d, &inv_channel, p, &n, err, errlen) < 0)
            return -1;
        total += (long long)n;
        l1 = strlen(uploads);
        db_bind_str(&p[1], uploads, &l1);
        db_bind_long(&p[2], &past);
        if (db_run_affected(d, &inv_uploads, p, &n, err, errlen) < 0)
            return -1;
        total += (long long)n;
        static const char channels[] = "channels";
        l1 = sizeof channels - 1;
        l2 = strlen(channel_id);
        db_bind_str(&p[1], channels, &l1);
        db_bind_str(&p[2], channel_id, &l2);
        db_bind_long(&p[3], &past);
        if (db_run_affected(d, &inv_id, p, &n, err, errlen) < 0)
            return -1;
        total += (long long)n;
        db_bind_str(&p[1], channel_id, &l2);
        db_bind_long(&p[2], &past);
        if (db_run_affected(d, &inv_ids, p, &n, err, errlen) < 0)
            return -1;
        total += (long long)n;
    }
    if (video_id && util_all_in(video_id, UTIL_B64URL, 11, 11)) {
        /* one-id rows; several ids are in cache_ids */
        static const char *const by_video[] = { "videos", "videos:batchGetStats" };
        for (size_t i = 0; i < sizeof by_video / sizeof by_video[0]; i++) {
            l1 = strlen(by_video[i]);
            l2 = strlen(video_id);
            db_bind_long(&p[0], &past);
            db_bind_str(&p[1], by_video[i], &l1);
            db_bind_str(&p[2], video_id, &l2);
            db_bind_long(&p[3], &past);
            if (db_run_affected(d, &inv_id, p, &n, err, errlen) < 0)
                return -1;
            total += (long long)n;
        }
        db_bind_str(&p[1], video_id, &l2);
        db_bind_long(&p[2], &past);
        if (db_run_affected(d, &inv_ids, p, &n, err, errlen) < 0)
            return -1;
        total += (long long)n;
    }
    return total;
}

void websub_notify(struct db *d, const struct conf *c, const char *qs, const char *token, const char *body,
                   size_t len, const char *signature, struct websub_answer *a)
{
    char channel[32], err[UTIL_ERRLEN];
    /* not our callback URL: 404 before any database work (a hub stops on 4xx) */
    if (!token_shaped(token)) {
        refuse(a, 404, "notification without a callback token", "");
        metrics_websub("unknown_topic", 1);
        return;
    }
    /* the hub retries non-2xx answers: forged or broken messages are
     * acknowledged and dropped, as WebSub asks */
    if (query_param(qs, "channel", channel, sizeof channel) < 0 || !util_all_in(channel, UTIL_B64URL, 24, 24)) {
        answer(a, 202, "ignored\n");
        metrics_websub("unknown_topic", 1);
        return;
    }
    struct sub s;
    int found = load_sub(d, channel, &s, err, sizeof err);
    if (found < 0) {
        log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "websub: %s", err);
        answer(a, 503, "database unavailable\n");    /* the hub will retry */
        return;
    }
    if (found && !token_ok(&s, token)) {
        refuse(a, 404, "notification with a wrong callback token", channel);
        metrics_websub("unknown_topic", 1);
        return;
    }
    if (!found || strcmp(s.state, "active") != 0) {
        log_msg(YLOG_WARN, "websub: notification for channel %s without an active subscription dropped", channel);
        answer(a, 202, "ignored\n");
        metrics_websub("unknown_topic", 1);
        return;
    }
    if (!websub_signature_ok(s.secret, body, len, signature)) {
        log_msg(YLOG_WARN, "websub: notification for channel %s with a %s signature dropped", channel,
                signature ? "bad" : "missing");
        answer(a, 202, "ignored\n");
        metrics_websub("bad_signature", 1);
        return;
    }
    struct websub_entry entries[WEBSUB_MAX_ENTRIES];
    size_t n = 0;
    if (websub_parse_atom(body, len, entries, WEBSUB_MAX_ENTRIES, &n, err, sizeof err) < 0) {
        log_msg(YLOG_WARN, "websub: channel %s: %s; dropped", channel, err);
        answer(a, 202, "ignored\n");
        metrics_websub("malformed", 1);
        return;
    }
    long long rows = 0;
    for (size_t i = 0; i < n; i++) {
        /* an entry can only speak for the channel it was signed for */
        const char *ch = entries[i].channel_id[0] ? entries[i].channel_id : channel;
        if (strcmp(ch, channel) != 0) {
            log_msg(YLOG_WARN, "websub: entry for channel %s in a feed signed for %s ignored", ch, channel);
            continue;
        }
        long long got = websub_invalidate(d, c, channel, entries[i].video_id, err, sizeof err);
        if (got < 0) {
            log_burst(LOG_SLOT_DB, 10, YLOG_ERROR, "websub: %s", err);
            answer(a, 503, "database unavailable\n");
            return;
        }
        rows += got;
        log_msg(YLOG_INFO, "websub: channel %s video %s%s: %lld cache rows expired", channel, entries[i].video_id,
                entries[i].deleted ? " (deleted)" : "", got);
    }
    static const struct db_stmt sql_seen = DB_STMT(
        "UPDATE websub_subs SET last_notified_at = UTC_TIMESTAMP(), notifications = notifications + 1"
        " WHERE channel_id = ?");
    MYSQL_BIND p[1];
    unsigned long clen = strlen(channel);
    db_bind_str(&p[0], channel, &clen);
    if (db_run(d, &sql_seen, p, err, sizeof err) < 0)
        log_burst(LOG_SLOT_DB, 10, YLOG_WARN, "websub: %s", err);
    metrics_websub("verified", 1);
    metrics_websub("invalidated_rows", (unsigned long long)rows);
    answer(a, 204, "");
}

/* ---- subscribing --------------------------------------------------------------- */

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p; (void)ud;
    return size * nmemb;
}

/* POST the form to the hub. 0 if it answered 2xx. */
static int hub_post(const struct conf *c, const char *mode, const char *topic, const char *callback,
                    const char *secret, char *err, size_t errlen)
{
    if (ycurl_load(err, errlen) < 0)
        return -1;
    CURL *h = ycurl.easy_init();
    if (!h) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    buf_t form = { 0 };
    char *e_topic = ycurl.easy_escape(h, topic, 0), *e_cb = ycurl.easy_escape(h, callback, 0),
         *e_secret = ycurl.easy_escape(h, secret, 0);
    buf_appendf(&form, "hub.mode=%s&hub.topic=%s&hub.callback=%s&hub.verify=async&hub.lease_seconds=%ld",
                mode, e_topic ? e_topic : "", e_cb ? e_cb : "", c->websub_lease);
    if (strcmp(mode, "subscribe") == 0)
        buf_appendf(&form, "&hub.secret=%s", e_secret ? e_secret : "");
    ycurl.free(e_topic);
    ycurl.free(e_cb);
    ycurl.free(e_secret);
    ycurl.easy_setopt(h, CURLOPT_URL, c->websub_hub);
    ycurl.easy_setopt(h, CURLOPT_POSTFIELDS, form.data);
    ycurl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    ycurl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    ycurl.easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    ycurl.easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    ycurl.easy_setopt(h, CURLOPT_USERAGENT, "ytcache/" PACKAGE_VERSION);
    CURLcode cc = ycurl.easy_perform(h);
    long status = 0;
    ycurl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    ycurl.easy_cleanup(h);
    memset(form.data, 0, form.len);     /* it held the secret */
    buf_free(&form);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "hub: %s", ycurl.easy_strerror(cc));
        return -1;
    }
    if (status < 200 || status >= 300) {
        snprintf(err, errlen, "hub answered HTTP %ld", status);
        return -1;
    }
    return 0;
}

int websub_request(struct db *d, const struct conf *c, const char *channel_id, int subscribe, char *err,
                   size_t errlen)
{
    if (!util_all_in(channel_id, UTIL_B64URL, 24, 24) || strncmp(channel_id, "UC", 2) != 0) {
        snprintf(err, errlen, "not a channel id");
        return -1;
    }
    if (!c->websub_callback || !*c->websub_callback) {
        snprintf(err, errlen, "[websub] callback is not set");
        return -1;
    }
    char topic[256];
    snprintf(topic, sizeof topic, "%s%s", TOPIC_PREFIX, channel_id);
    struct sub s;
    if (load_sub(d, channel_id, &s, err, errlen) < 0)
        return -1;
    char secret[65];
    if (s.found && s.secret[0]) {
        util_copy(secret, sizeof secret, s.secret);
    } else {
        unsigned char raw[24];
        if (util_random(raw, sizeof raw) < 0) {
            snprintf(err, errlen, "no randomness for the secret");
            return -1;
        }
        util_hex(raw, sizeof raw, secret);
    }
    char token[WEBSUB_TOKEN_LEN + 1], callback[1200];
    if (callback_token(secret, channel_id, token) < 0) {
        snprintf(err, errlen, "cannot derive the callback token");
        return -1;
    }
    /* <callback>/<token>?channel=...: the token goes before any query the URL has */
    const char *cb = c->websub_callback, *qm = strchr(cb, '?');
    int plen = (int)(qm ? (size_t)(qm - cb) : strlen(cb));
    while (plen > 0 && cb[plen - 1] == '/')
        plen--;
    snprintf(callback, sizeof callback, "%.*s/%s?%s%schannel=%s", plen, cb, token, qm ? qm + 1 : "",
             qm && qm[1] ? "&" : "", channel_id);
    static const struct db_stmt sql_upsert = DB_STMT(
        "INSERT INTO websub_subs (channel_id, topic, secret, state, lease_seconds, requested_at)"
        " VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP())"
        " ON DUPLICATE KEY UPDATE state = ?, requested_at = UTC_TIMESTAMP(), last_error = NULL");
    const char *state = !subscribe ? "unsubscribing"
                        : s.found && strcmp(s.state, "active") == 0 ? "active" : "pending";
    MYSQL_BIND p[6];
    unsigned long l0 = strlen(channel_id), l1 = strlen(topic), l2 = strlen(secret), l3 = strlen(state);
    long long lease = c->websub_lease;
    db_bind_str(&p[0], channel_id, &l0);
    db_bind_str(&p[1], topic, &l1);
    db_bind_str(&p[2], secret, &l2);
    db_bind_str(&p[3], state, &l3);
    db_bind_long(&p[4], &lease);
    db_bind_str(&p[5], state, &l3);
    if (db_run(d, &sql_upsert, p, err, errlen) < 0)
        return -1;
    int rc = hub_post(c, subscribe ? "subscribe" : "unsubscribe", topic, callback, secret, err, errlen);
    memset(secret, 0, sizeof secret);
    if (rc < 0) {
        static const struct db_stmt sql_fail = DB_STMT("UPDATE websub_subs SET last_error = ? WHERE channel_id = ?");
        MYSQL_BIND q[2];
        char msg[UTIL_ERRLEN];
        util_copy(msg, sizeof msg, err);
        unsigned long ml = strlen(msg);
        db_bind_str(&q[0], msg, &ml);
        db_bind_str(&q[1], channel_id, &l0);
        db_run(d, &sql_fail, q, msg, sizeof msg);
        return -1;
    }
    log_msg(YLOG_INFO, "websub: %s requested for channel %s", subscribe ? "subscription" : "unsubscription",
            channel_id);
    return 0;
}

int websub_forget(struct db *d, const char *channel_id, char *err, size_t errlen)
{
    if (!util_all_in(channel_id, UTIL_B64URL, 24, 24) || strncmp(channel_id, "UC", 2) != 0) {
        snprintf(err, errlen, "not a channel id");
        return 2;
    }
    /* local only: a hub that still pushes is answered "unknown topic" (202)
     * from now on, and stops when its lease ends */
    static const struct db_stmt sql = DB_STMT("DELETE FROM websub_subs WHERE channel_id = ?");
    long long affected = db_run_str(d, &sql, channel_id, err, errlen);
    if (affected < 0)
        return -1;
    if (!affected) {
        snprintf(err, errlen, "no subscription for this channel");
        return 1;
    }
    log_msg(YLOG_INFO, "websub: subscription of channel %s forgotten (the hub was not told)", channel_id);
    return 0;
}

/* Leases renewed per run, soonest to end first; the rest wait for the next run. */
#define RENEW_BATCH 100

int websub_renew(struct db *d, const struct conf *c, long within, char *err, size_t errlen)
{
    static const struct db_stmt sql = DB_STMT(
        "SELECT channel_id FROM websub_subs WHERE state = 'active'"
        " AND lease_expires_at < UTC_TIMESTAMP() + INTERVAL ? SECOND ORDER BY lease_expires_at"
        " LIMIT " UTIL_STR(RENEW_BATCH));
    long long w = within;
    MYSQL_BIND p[1], r[1];
    char ids[RENEW_BATCH][32];
    size_t n = 0;
    char id[32];
    unsigned long len = 0;
    my_bool isnull = 0;
    db_bind_long(&p[0], &w);
    db_bind_out_str(&r[0], id, sizeof id - 1, &len, &isnull);
    struct db_rows rs;
    if (db_rows_begin(&rs, d, &sql, p, r, err, errlen) < 0)
        return -1;
    while (n < RENEW_BATCH && db_rows_next(&rs) == DB_ROW) {
        id[len < sizeof id ? len : sizeof id - 1] = '\0';
        util_copy(ids[n++], sizeof ids[0], id);
    }
    db_rows_end(&rs);
    int renewed = 0;
    for (size_t i = 0; i < n; i++) {
        if (websub_request(d, c, ids[i], 1, err, errlen) == 0)
            renewed++;
        else
            log_msg(YLOG_WARN, "websub: renewing channel %s: %s", ids[i], err);
    }
    return renewed;
}

const char *websub_path_token(const char *path, char *out, size_t outlen)
{
    static const char seg[] = "/websub/";
    if (!path)
        return NULL;
    size_t plen = strcspn(path, "?");
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    const char *last = NULL;
    for (const char *s = path; (s = memmem(s, plen - (size_t)(s - path), seg, sizeof seg - 1)); s++)
        last = s;
    if (!last)
        return NULL;
    const char *t = last + sizeof seg - 1;
    size_t tl = plen - (size_t)(t - path);
    if (tl == 0 || tl >= outlen || memchr(t, '/', tl))
        return NULL;
    memcpy(out, t, tl);
    out[tl] = '\0';
    return out;
}

/* economy: answers from cheaper API calls ([economy]): a channel's latest videos from its uploads playlist. */
#include "economy.h"
#include "canon.h"
#include "conf.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* What the uploads playlist can honour of a search; any other parameter
 * (q, publishedAfter, eventType, videoDuration, fields, ...) needs search. */
static const char *const honoured[] = { "part", "channelId", "order", "type", "maxResults", "pageToken", NULL };

static int is_honoured(const char *name)
{
    for (const char *const *h = honoured; *h; h++)
        if (strcmp(*h, name) == 0)
            return 1;
    return 0;
}

static int eq(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

int economy_uploads(const struct conf *c, const struct canon *search, struct canon *up, char *source,
                    size_t srclen)
{
    if (c->channel_search != CONF_CHANNEL_SEARCH_UPLOADS || strcmp(search->resource, "search") != 0)
        return 0;
    for (size_t i = 0; i < search->n; i++)
        if (!is_honoured(search->params[i].name))
            return 0;
    const char *channel = canon_get(search, "channelId");
    if (!channel || !eq(canon_get(search, "order"), "date") || !eq(canon_get(search, "type"), "video"))
        return 0;
    /* canon checked channelId: "UC" and 22 more; its uploads playlist is "UU" and the same 22 */
    char qs[512];
    const char *max = canon_get(search, "maxResults"), *page = canon_get(search, "pageToken");
    int n = snprintf(qs, sizeof qs, "part=contentDetails,snippet&playlistId=UU%s%s%s%s%s", channel + 2,
                     max ? "&maxResults=" : "", max ? max : "", page ? "&pageToken=" : "", page ? page : "");
    struct yerr e;
    /* pageToken is base64url, maxResults digits: nothing to encode */
    if (n < 0 || (size_t)n >= sizeof qs || canon_parse(up, "playlistItems", qs, &e) < 0)
        return -1;
    snprintf(source, srclen, "uploads; playlistId=UU%s", channel + 2);
    return 1;
}

static json_object *get(json_object *o, const char *name)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, name, &v) ? v : NULL;
}

static const char *get_str(json_object *o, const char *name)
{
    json_object *v = get(o, name);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Copy o.name into out (shared, not copied) if present. */
static void keep(json_object *out, const char *as, json_object *o, const char *name)
{
    json_object *v = get(o, name);
    if (v)
        json_object_object_add(out, as, json_object_get(v));
}

/* search.list sends titles and descriptions HTML-escaped, playlistItems
 * plain: a page written for search expects the former. NULL if absent. */
static json_object *html_escaped(json_object *o, const char *name)
{
    const char *v = get_str(o, name);
    if (!v)
        return NULL;
    buf_t b = { 0 };
    for (const char *p = v; *p; p++) {
        const char *rep = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;"
                          : *p == '"' ? "&quot;" : *p == '\'' ? "&#39;" : NULL;
        if (rep ? buf_appends(&b, rep) < 0 : buf_append(&b, p, 1) < 0) {
            buf_free(&b);
            return NULL;
        }
    }
    json_object *r = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
    buf_free(&b);
    return r;
}

/* One playlistItem as the youtube#searchResult search gives; NULL to skip
 * it (no video id: a deleted or private entry). */
static json_object *search_result(json_object *item, int snippet)
{
    json_object *sn = get(item, "snippet"), *cd = get(item, "contentDetails");
    const char *vid = get_str(cd, "videoId");
    if (!vid)
        vid = get_str(get(sn, "resourceId"), "videoId");
    if (!vid)
        return NULL;
    json_object *r = json_object_new_object(), *id = json_object_new_object();
    json_object_object_add(r, "kind", json_object_new_string("youtube#searchResult"));
    keep(r, "etag", item, "etag");
    json_object_object_add(id, "kind", json_object_new_string("youtube#video"));
    json_object_object_add(id, "videoId", json_object_new_string(vid));
    json_object_object_add(r, "id", id);
    if (snippet && sn) {
        /* when the video was published, not when it joined the playlist */
        json_object *when = get(cd, "videoPublishedAt") ? get(cd, "videoPublishedAt") : get(sn, "publishedAt");
        json_object *s = json_object_new_object();
        if (when)
            json_object_object_add(s, "publishedAt", json_object_get(when));
        keep(s, "channelId", sn, "channelId");
        json_object *title = html_escaped(sn, "title"), *desc = html_escaped(sn, "description");
        if (title)
            json_object_object_add(s, "title", title);
        if (desc)
            json_object_object_add(s, "description", desc);
        keep(s, "thumbnails", sn, "thumbnails");
        keep(s, "channelTitle", sn, "channelTitle");
        /* the playlist does not say; an uploaded video is not live */
        json_object_object_add(s, "liveBroadcastContent", json_object_new_string("none"));
        if (when)
            json_object_object_add(s, "publishTime", json_object_get(when));
        json_object_object_add(r, "snippet", s);
    }
    return r;
}

int economy_search_body(const struct canon *search, buf_t *body)
{
    if (!body->len || body->len > (size_t)0x7fffffff)
        return -1;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return -1;
    json_object *in = json_tokener_parse_ex(tok, body->data, (int)body->len);
    json_tokener_free(tok);
    json_object *items = get(in, "items");
    if (!in || !items || !json_object_is_type(items, json_type_array)) {
        json_object_put(in);
        return -1;
    }
    const char *part = canon_get(search, "part");
    int snippet = part && strstr(part, "snippet") != NULL;
    json_object *out = json_object_new_object(), *list = json_object_new_array();
    json_object_object_add(out, "kind", json_object_new_string("youtube#searchListResponse"));
    keep(out, "etag", in, "etag");
    keep(out, "nextPageToken", in, "nextPageToken");
    keep(out, "prevPageToken", in, "prevPageToken");
    keep(out, "pageInfo", in, "pageInfo");
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *r = search_result(json_object_array_get_idx(items, i), snippet);
        if (r)
            json_object_array_add(list, r);
    }
    json_object_object_add(out, "items", list);
    json_object_put(in);
    buf_t tmp = { 0 };
    int rc = util_json_take(&tmp, out);
    if (rc == 0) {
        buf_reset(body);
        rc = buf_append(body, tmp.data, tmp.len);
    }
    buf_free(&tmp);
    return rc;
}

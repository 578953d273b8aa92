<?php
// bench/php/ytcache.php -- the PHP-FPM baseline of bench/run: a faithful,
// minimal PHP version of ytcache's job, written the way a careful PHP
// developer would (opcache on, persistent PDO connection, one prepared
// statement per request).
//
//   GET .../youtube/v3/<resource>?<params>
//
// * validates the resource and a couple of parameters (part required and
//   well-formed, id well-formed), refuses OAuth-only ones;
// * canonical key = SHA-256 of the resource and the sorted parameters (part
//   and id split, trimmed, de-duplicated and sorted; key, callback, ttl, ...
//   dropped), like ytcache's;
// * a hit is one SELECT by primary key on its own MariaDB table
//   (php_cache, created by bench/run), echoed with the same headers as
//   ytcache (Content-Type, Content-Length, X-Cache, Age, Cache-Control,
//   ETag; If-None-Match gives 304);
// * a miss fetches from upstream with file_get_contents and INSERTs.
// What it leaves out: single flight, stale copies, quota accounting, hit
// counting, CORS. Configuration comes from the php-fpm pool's env[]:
// YTC_DB_SOCKET, YTC_DB_USER, YTC_DB_PASSWORD, YTC_DB_NAME, YTC_UPSTREAM
// (base URL ending in /youtube/v3) and YTC_UPSTREAM_KEY.

const RESOURCES = [
    'activities' => 3600, 'captions' => 3600, 'channelSections' => 3600, 'channels' => 86400,
    'commentThreads' => 3600, 'comments' => 3600, 'i18nLanguages' => 86400, 'i18nRegions' => 86400,
    'playlistItems' => 3600, 'playlists' => 3600, 'search' => 21600, 'subscriptions' => 3600,
    'videoCategories' => 86400, 'videos' => 3600,
];
const DROPPED = ['key', 'callback', 'prettyPrint', 'quotaUser', 'alt', 'ttl', 'age', 'endpoint'];
const OAUTH_ONLY = ['mine', 'myRating', 'access_token', 'managedByMe', 'forMine', 'home'];
const JSON_TYPE = 'Content-Type: application/json; charset=UTF-8';

function fail(int $code, string $reason, string $message, string $location = ''): void
{
    $e = ['message' => $message, 'domain' => 'ytcache', 'reason' => $reason];
    if ($location !== '') {
        $e['location'] = $location;
        $e['locationType'] = 'parameter';
    }
    $body = json_encode(['error' => ['code' => $code, 'message' => $message, 'errors' => [$e]]]);
    http_response_code($code);
    header(JSON_TYPE);
    header('Cache-Control: no-store');
    header('Content-Length: ' . strlen($body));
    echo $body;
    exit;
}

function answer(int $status, string $xcache, int $age, int $maxAge, string $etag, string $body): void
{
    http_response_code($status);
    header(JSON_TYPE);
    header('X-Cache: ' . $xcache);
    header('Age: ' . max(0, $age));
    header('Cache-Control: public, max-age=' . max(0, $maxAge));
    if ($etag !== '') {
        header('ETag: "' . $etag . '"');
        $inm = $_SERVER['HTTP_IF_NONE_MATCH'] ?? '';
        if ($status === 200 && $inm !== '' && ($inm === '*' || strpos($inm, '"' . $etag . '"') !== false)) {
            http_response_code(304);
            return;
        }
    }
    header('Content-Length: ' . strlen($body));
    if (($_SERVER['REQUEST_METHOD'] ?? 'GET') !== 'HEAD')
        echo $body;
}

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
if ($method !== 'GET' && $method !== 'HEAD') {
    header('Allow: GET, HEAD');
    fail(405, 'methodNotAllowed', 'Only GET and HEAD are supported.');
}
$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?? '/';
if (!preg_match('#/youtube/v3/([A-Za-z0-9]+)$#', $path, $m) || !isset(RESOURCES[$m[1]]))
    fail(404, 'notFound', 'Unknown resource.');
$resource = $m[1];

// The query by hand: $_GET would turn dots in names into underscores and
// keep only the last of repeated names.
$params = [];
$qs = $_SERVER['QUERY_STRING'] ?? '';
if (strlen($qs) > 4096)
    fail(414, 'uriTooLong', 'Query string longer than 4096 bytes.');
foreach ($qs === '' ? [] : explode('&', $qs) as $pair) {
    if ($pair === '')
        continue;
    $kv = explode('=', $pair, 2);
    $k = urldecode($kv[0]);
    $v = urldecode($kv[1] ?? '');
    if (in_array($k, DROPPED, true))
        continue;
    if (in_array($k, OAUTH_ONLY, true))
        fail(400, 'oauthNotSupported', "Parameter $k needs a signed-in user.", $k);
    if (!preg_match('/^[A-Za-z][A-Za-z0-9]{0,39}$/', $k))
        fail(400, 'unknownParameter', 'Unknown parameter.', $k);
    if (isset($params[$k]))
        fail(400, 'invalidParameter', "Parameter $k given twice.", $k);
    $params[$k] = $v;
}
if (($params['part'] ?? '') === '')
    fail(400, 'missingParameter', 'Required parameter: part.', 'part');
foreach (['part', 'id'] as $k) {
    if (!isset($params[$k]))
        continue;
    $list = array_values(array_unique(array_filter(array_map('trim', explode(',', $params[$k])), 'strlen')));
    sort($list, SORT_STRING);
    $params[$k] = implode(',', $list);
}
if (!preg_match('/^[A-Za-z]+(,[A-Za-z]+)*$/', $params['part']))
    fail(400, 'invalidParameter', 'Invalid part.', 'part');
if (isset($params['id']) && !preg_match('/^[A-Za-z0-9_-]{1,64}(,[A-Za-z0-9_-]{1,64}){0,49}$/', $params['id']))
    fail(400, 'invalidParameter', 'Invalid id.', 'id');
ksort($params, SORT_STRING);
$canon = str_replace('%2C', ',', http_build_query($params, '', '&', PHP_QUERY_RFC3986));
$key = hash('sha256', "pool\n" . $resource . "\n" . $canon);   // 64 hex digits

try {
    $db = new PDO('mysql:unix_socket=' . getenv('YTC_DB_SOCKET') . ';dbname=' . getenv('YTC_DB_NAME') . ';charset=utf8mb4',
                  getenv('YTC_DB_USER'), getenv('YTC_DB_PASSWORD'),
                  [PDO::ATTR_PERSISTENT => true, PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    $st = $db->prepare('SELECT response, status, etag, TIMESTAMPDIFF(SECOND, fetched_at, UTC_TIMESTAMP()),'
                       . ' TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), expires_at) FROM php_cache WHERE cache_key = ?');
    $st->execute([$key]);
    $row = $st->fetch(PDO::FETCH_NUM);
    $st->closeCursor();
} catch (PDOException $e) {
    error_log('ytcache.php: database: ' . $e->getMessage());
    fail(503, 'databaseUnavailable', 'The cache database is unavailable.');
}
if ($row && (int)$row[4] > 0) {
    answer((int)$row[1], 'HIT', (int)$row[3], (int)$row[4], (string)$row[2], $row[0]);
    exit;
}

// miss: ask upstream, store, answer
$ttl = RESOURCES[$resource];
$ctx = stream_context_create(['http' => ['ignore_errors' => true, 'timeout' => 8,
                                         'header' => "Accept-Encoding: identity\r\n"]]);
$body = @file_get_contents(getenv('YTC_UPSTREAM') . '/' . $resource . '?' . $canon . '&key='
                           . rawurlencode(getenv('YTC_UPSTREAM_KEY')), false, $ctx);
if ($body === false || !isset($http_response_header[0])
    || !preg_match('#^HTTP/\S+ (\d{3})#', $http_response_header[0], $sm))
    fail(502, 'upstreamUnreachable', 'The YouTube Data API could not be reached.');
$status = (int)$sm[1];
if ($status !== 200 && ($status < 400 || $status >= 500 || $status === 403 || $status === 429))
    fail(502, 'upstreamError', "The YouTube Data API answered $status.");
$json = json_decode($body, true);
$etag = is_array($json) && isset($json['etag']) && is_string($json['etag']) ? $json['etag'] : '';
if ($status !== 200)
    $ttl = 300;
try {
    $db->prepare('INSERT INTO php_cache (cache_key, response, status, etag, fetched_at, expires_at)'
                 . ' VALUES (?, ?, ?, ?, UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL ? SECOND)'
                 . ' ON DUPLICATE KEY UPDATE response = VALUES(response), status = VALUES(status),'
                 . ' etag = VALUES(etag), fetched_at = VALUES(fetched_at), expires_at = VALUES(expires_at)')
       ->execute([$key, $body, $status, $etag, $ttl]);
} catch (PDOException $e) {
    error_log('ytcache.php: cannot store: ' . $e->getMessage());
}
answer($status, 'MISS', 0, $ttl, $etag, $body);

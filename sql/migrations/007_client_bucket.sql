-- Per-client limits are kept per bucket: client_limits.client becomes
-- "<identity>|<bucket>", longer than an identity alone (an IPv6 /128 and a
-- 31-character bucket name need 75 characters).
ALTER TABLE client_limits
  MODIFY client VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL;
-- rows keyed by the identity alone are never read again
DELETE FROM client_limits WHERE client NOT LIKE '%|%';

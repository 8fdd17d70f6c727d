// The distributed store: PostgreSQL 15 through libpq, directly or behind PgBouncer in
// transaction pooling mode.
//
// Every transaction is self-contained, so any server connection may serve it: it opens (BEGIN)
// and sets, transaction-locally, its scope for row-level security (`app.org_id`, `app.user_id`,
// `app.cross_tenant_read`, see TxOptions), the statement timeout and the date style, in the round
// trip of its first statement (libpq pipeline mode). A read-only transaction commits each
// statement in that round trip (READ COMMITTED shows a statement the same data either way) until
// it takes a lock(); from then on its statements share one server transaction, whose COMMIT is
// sent without waiting for the answer (the connection's next round trip reads it). A writing
// transaction waits for its COMMIT. Statements are unnamed (PQsendQueryParams), with parameters
// sent as text and no declared type, so the server infers uuid, timestamptz or jsonb from the
// context. Nothing is set at session level or expected to survive a transaction.
//
// Results: bool as bool, integer types as integers, float types as doubles, timestamptz and
// timestamp as format_time() text ("2026-11-27T02:44:23.123456Z"), everything else (uuid, jsonb,
// numeric, text) as the server's text.
//
// Connections come from a bounded pool. A broken connection is dropped together with the idle
// ones (made to the same server, they are likely broken too), so the transaction after a server
// restart connects afresh and succeeds; a transaction that lost its connection before COMMIT is
// re-run on a new one. Every round trip has a client-side deadline (statement timeout plus a
// margin, and for the first, whose BEGIN may queue in PgBouncer, the connect timeout on top): past
// it the connection is dropped and the caller gets kUnavailable. While the server is unreachable,
// transactions fail with kUnavailable at once for a short back-off after each failed connection
// attempt.
//
// Thread-safe, like every Database.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"

namespace atrium::db::postgres {

struct Options {
  std::string url;  // a libpq URI: postgresql://user:password@host:port/database?param=value
  int pool_size = 8;
  // Per statement, enforced by the server (0 = none, for migrations). The client gives up on a
  // round trip this long plus a margin after sending it.
  std::chrono::milliseconds statement_timeout{10000};
  std::chrono::milliseconds connect_timeout{5000};  // also bounds waiting in PgBouncer's queue
  std::chrono::milliseconds acquire_timeout{5000};  // waiting for a free pooled connection
  // After a failed connection attempt, transactions needing a new connection fail at once.
  std::chrono::milliseconds reconnect_backoff{500};
};

// Checks the URL, connects once (so a bad URL, password or database is reported at start-up).
// Errors: kInvalidRequest for a malformed URL, kUnavailable when the server cannot be reached.
Result<std::unique_ptr<Database>> open(const Options& options);

// A connection outside any transaction, for statements that cannot run in one (CREATE DATABASE,
// DROP DATABASE) and for session-level advisory locks: tooling and test fixtures, never the
// request path. Not thread-safe.
class AdminSession {
 public:
  static Result<AdminSession> connect(const std::string& url);
  AdminSession(AdminSession&& other) noexcept;
  AdminSession& operator=(AdminSession&&) = delete;
  ~AdminSession();

  // Runs `sql` (one statement or several, no parameters) with the simple query protocol;
  // returns the last statement's rows. Errors: as for Tx (kConflict, kUnavailable, kInternal).
  Result<Rows> run(std::string_view sql);
  // `text` as an SQL string literal (quoted and escaped) or identifier, for composing `sql`.
  std::string literal(std::string_view text) const;
  std::string identifier(std::string_view text) const;

 private:
  struct Impl;
  explicit AdminSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Converts the server's ISO text of a timestamptz (`with_zone`) or timestamp to format_time()
// form; text it cannot convert ('infinity', BC dates, years past 9999) is returned unchanged.
std::string iso_timestamp_to_rfc3339(std::string_view text, bool with_zone);

}  // namespace atrium::db::postgres

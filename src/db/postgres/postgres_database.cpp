#include "db/postgres/postgres_database.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "platform/clock.hpp"
#include "platform/ids.hpp"
#include "platform/log.hpp"

namespace atrium::db::postgres {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kMaxAttempts = 5;
// The client's deadline for a statement exceeds the server's statement_timeout by this much, so
// the server's cancellation (a clean error on a live connection) normally comes first.
constexpr auto kDeadlineMargin = 2s;
// Statements and messages are logged, never returned; long ones are cut.
constexpr std::size_t kLoggedSqlChars = 300;
// pg_advisory_xact_lock key taken by lock_for_migration: "atrium" in ASCII.
constexpr std::int64_t kMigrationLockKey = 0x61747269756d;

// Type OIDs of the built-in types converted from text (src/include/catalog/pg_type.dat).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kTimestampOid = 1114;
constexpr Oid kTimestamptzOid = 1184;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

struct Connection {
  PGconn* handle = nullptr;
  bool broken = false;
  bool timed_out = false;  // broken because a round trip outlived its deadline
  // In pipeline mode with a read-only transaction's COMMIT and its sync sent and not yet read:
  // the connection's next round trip reads them first.
  bool commit_pending = false;

  ~Connection() {
    if (handle) PQfinish(handle);
  }
};

std::string cut(std::string_view text) {
  std::string out(text.substr(0, kLoggedSqlChars));
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The line of `sql` holding the server's error position (1-based, in characters), so that an
// error in a long script (a migration) points at its statement rather than at its first lines.
std::string around(std::string_view sql, std::string_view position) {
  std::int64_t chars = 0;
  auto [ptr, ec] = std::from_chars(position.data(), position.data() + position.size(), chars);
  if (ec != std::errc{} || chars < 1 || sql.size() <= kLoggedSqlChars) return cut(sql);
  std::size_t at = 0;
  for (std::int64_t seen = 0; at < sql.size(); ++at) {
    if ((static_cast<unsigned char>(sql[at]) & 0xC0) != 0x80 && ++seen == chars) break;
  }
  const std::size_t begin =
      sql.rfind('\n', at) == std::string_view::npos ? 0 : sql.rfind('\n', at) + 1;
  return cut(sql.substr(begin));
}

std::string_view field(const PGresult* r, int code) {
  const char* v = r ? PQresultErrorField(r, code) : nullptr;
  return v ? std::string_view(v) : std::string_view();
}

// What a failed round trip means for the transaction.
enum class Failure {
  kNone,
  kConflict,     // unique or foreign-key violation
  kTransient,    // serialization failure or deadlock: the transaction may be re-run
  kUnavailable,  // the server is gone, shutting down, overloaded or too slow
  kInvalid,      // text the server cannot store (NUL, invalid UTF-8)
  kInternal,
};

Failure classify(std::string_view sqlstate, std::string_view severity, bool connection_bad) {
  if (connection_bad || severity == "FATAL" || severity == "PANIC") return Failure::kUnavailable;
  if (sqlstate == "23505" || sqlstate == "23503") return Failure::kConflict;
  if (sqlstate == "40001" || sqlstate == "40P01") return Failure::kTransient;
  if (sqlstate == "22021" || sqlstate == "22P05") return Failure::kInvalid;
  // 08P01 with severity ERROR is our own protocol mistake (e.g. a parameter count that does not
  // match the statement), not a lost connection.
  if ((sqlstate.starts_with("08") && sqlstate != "08P01") || sqlstate.starts_with("53") ||
      sqlstate.starts_with("57P") || sqlstate == "57014" || sqlstate == "55P03" ||
      sqlstate == "25P03")
    return Failure::kUnavailable;
  return Failure::kInternal;
}

Error to_error(Failure f, std::string_view sqlstate) {
  switch (f) {
    case Failure::kConflict:
      return Error::conflict("conflicts with existing data");
    case Failure::kTransient:
      return Error::unavailable("database busy");
    case Failure::kUnavailable:
      return Error::unavailable(sqlstate == "57014" ? "database timeout" : "database unavailable");
    case Failure::kInvalid:
      return Error::invalid("text must be valid UTF-8 without NUL characters");
    case Failure::kNone:
    case Failure::kInternal:
      break;
  }
  return Error::internal();
}

// Waits until the socket is ready for `events` or the deadline passes.
bool wait_socket(PGconn* conn, short events, SteadyClock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd p{PQsocket(conn), events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60000)));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;  // let libpq report the socket's error
  }
}

bool parse_int(std::string_view s, std::int64_t& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

// Writes the RFC 3339 form of PostgreSQL's ISO DateStyle `s` (kRfc3339Size characters) to `out`;
// false, `out` untouched, for anything else.
constexpr std::size_t kRfc3339Size = 27;
bool write_rfc3339(std::string_view s, bool with_zone, char* out);

// The result's cells are read in place: text stays in the PGresult, which the ResultSet keeps.
Rows to_rows(PgResult result) {
  const PGresult* r = result.get();
  const int n = PQntuples(r);
  const int m = PQnfields(r);
  std::vector<Oid> types(static_cast<std::size_t>(m));
  std::size_t times = 0;
  for (int c = 0; c < m; ++c) {
    types[static_cast<std::size_t>(c)] = PQftype(r, c);
    if (types[static_cast<std::size_t>(c)] == kTimestamptzOid ||
        types[static_cast<std::size_t>(c)] == kTimestampOid)
      ++times;
  }
  auto set =
      std::make_shared<ResultSet>(static_cast<std::size_t>(m), static_cast<std::size_t>(n),
                                  std::shared_ptr<const void>(result.release(), [](const void* p) {
                                    PQclear(static_cast<PGresult*>(const_cast<void*>(p)));
                                  }));
  set->reserve_copies(times * static_cast<std::size_t>(n) * kRfc3339Size);
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < m; ++c) {
      if (PQgetisnull(r, i, c)) {
        set->add_null();
        continue;
      }
      const std::string_view text(PQgetvalue(r, i, c),
                                  static_cast<std::size_t>(PQgetlength(r, i, c)));
      switch (types[static_cast<std::size_t>(c)]) {
        case kBoolOid:
          set->add_bool(text == "t");
          continue;
        case kInt2Oid:
        case kInt4Oid:
        case kInt8Oid:
        case kOidOid: {
          std::int64_t v = 0;
          if (parse_int(text, v)) {
            set->add_integer(v);
            continue;
          }
          break;
        }
        case kFloat4Oid:
        case kFloat8Oid:
          set->add_real(std::strtod(text.data(), nullptr));  // PQgetvalue's text ends with a NUL
          continue;
        case kTimestamptzOid:
        case kTimestampOid: {
          char time[kRfc3339Size];
          if (write_rfc3339(text, types[static_cast<std::size_t>(c)] == kTimestamptzOid, time)) {
            set->add_text_copy(std::string_view(time, kRfc3339Size));
            continue;
          }
          break;
        }
        default:
          break;
      }
      set->add_text_ref(text);
    }
  }
  set->finish();
  return Rows(std::move(set));
}

// One request/response exchange on a connection, with a deadline. Keeps what the transaction
// needs to decide on a retry.
class Channel {
 public:
  explicit Channel(Connection& conn) : conn_(conn) {}

  Failure last_failure() const { return last_failure_; }

  // Sends with `send` (a PQsend* call) and collects every result. Returns the last result, or
  // the first error translated.
  template <class Send>
  Result<PgResult> exchange(Send&& send, SteadyClock::time_point deadline, std::string_view op,
                            std::string_view sql) {
    last_failure_ = Failure::kNone;
    PGconn* c = conn_.handle;
    if (conn_.broken) return lost(op, sql, "connection already broken");
    if (conn_.commit_pending) return lost(op, sql, "connection in pipeline mode");
    if (!send(c)) return lost(op, sql, PQerrorMessage(c));
    if (auto flushed = flush(deadline, op, sql); !flushed) return fail(flushed.error());
    PgResult last;
    PgResult error;
    for (;;) {
      while (PQisBusy(c)) {
        if (!wait_socket(c, POLLIN, deadline)) return timed_out(op, sql);
        if (!PQconsumeInput(c)) return lost(op, sql, PQerrorMessage(c));
      }
      PGresult* r = PQgetResult(c);
      if (!r) break;
      const auto status = PQresultStatus(r);
      if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR ||
          status == PGRES_BAD_RESPONSE) {
        if (!error)
          error.reset(r);
        else
          PQclear(r);
      } else {
        last.reset(r);
      }
      if (PQstatus(c) == CONNECTION_BAD) break;
    }
    if (error || PQstatus(c) == CONNECTION_BAD) return failed(error.get(), op, sql);
    if (!last) return lost(op, sql, "no result");
    return last;
  }

  // What a pipeline round trip queued, in order.
  enum class Step {
    kStatement,  // a statement of the transaction: its error is the round trip's
    kCommit,     // the transaction's COMMIT: its error is the round trip's, its result unused
    kEarlier,    // an earlier transaction's deferred COMMIT: its error is only logged
    kSync,
  };

  // One round trip in pipeline mode: `send` queues statements and syncs (PQsendQueryParams,
  // PQpipelineSync) as `steps` lists them. Returns the result of the last kStatement, or the
  // first kStatement error translated. Leaves pipeline mode, everything read. `texts`, when given,
  // has the text of each kStatement and kCommit step in order: an error is logged with its own
  // statement's (otherwise with `sql`).
  template <class Send>
  Result<PgResult> pipeline(Send&& send, std::span<const Step> steps,
                            SteadyClock::time_point deadline, std::string_view op,
                            std::string_view sql, std::span<const std::string_view> texts = {}) {
    last_failure_ = Failure::kNone;
    PGconn* c = conn_.handle;
    if (conn_.broken) return lost(op, sql, "connection already broken");
    if (PQpipelineStatus(c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(c))
      return lost(op, sql, PQerrorMessage(c));
    if (!send(c)) return lost(op, sql, PQerrorMessage(c));
    if (auto flushed = flush(deadline, op, sql); !flushed) return fail(flushed.error());
    conn_.commit_pending = false;
    PgResult last;
    PgResult error;
    std::string_view error_sql = sql;
    std::size_t statement = 0;
    for (const Step step : steps) {
      const std::size_t index = statement;
      if (step == Step::kStatement || step == Step::kCommit) ++statement;
      if (step == Step::kSync) {
        auto r = next_result(deadline, op, sql);
        if (!r) return fail(r.error());
        PgResult sync(*r);
        if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
          return lost(op, sql, PQstatus(c) == CONNECTION_BAD ? PQerrorMessage(c) : "out of step");
        continue;
      }
      // A statement's results end with a null one.
      for (;;) {
        auto r = next_result(deadline, op, sql);
        if (!r) return fail(r.error());
        if (!*r) break;
        PgResult result(*r);
        const auto status = PQresultStatus(result.get());
        const bool bad = status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR ||
                         status == PGRES_BAD_RESPONSE;
        if (step == Step::kEarlier) {
          if (bad) {
            std::string message(field(result.get(), PG_DIAG_MESSAGE_PRIMARY));
            log::error("postgres deferred commit failed", {{"message", message}});
          }
        } else if (bad) {
          if (!error) {
            error = std::move(result);
            if (index < texts.size()) error_sql = texts[index];
          }
        } else if (status != PGRES_PIPELINE_ABORTED && step == Step::kStatement) {
          last = std::move(result);
        }
        if (PQstatus(c) == CONNECTION_BAD) return failed(error.get(), op, error_sql);
      }
    }
    if (!PQexitPipelineMode(c)) return lost(op, sql, PQerrorMessage(c));
    if (error) return failed(error.get(), op, error_sql);
    if (!last) return lost(op, sql, "no result");
    return last;
  }

  // Sends a read-only transaction's COMMIT without waiting for its answer, which the connection's
  // next round trip reads (pipeline()). The server ends the transaction, and PgBouncer frees its
  // server connection, as soon as the COMMIT arrives.
  Result<void> send_deferred_commit(SteadyClock::time_point deadline) {
    last_failure_ = Failure::kNone;
    PGconn* c = conn_.handle;
    if (conn_.broken) return lost("commit", "COMMIT", "connection already broken");
    if (!PQenterPipelineMode(c) ||
        !PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) ||
        !PQpipelineSync(c))
      return lost("commit", "COMMIT", PQerrorMessage(c));
    if (auto flushed = flush(deadline, "commit", "COMMIT"); !flushed) return flushed;
    conn_.commit_pending = true;
    return {};
  }

 private:
  Result<void> flush(SteadyClock::time_point deadline, std::string_view op, std::string_view sql) {
    PGconn* c = conn_.handle;
    for (;;) {
      const int flushed = PQflush(c);
      if (flushed == 0) return {};
      if (flushed < 0) return lost(op, sql, PQerrorMessage(c));
      if (!wait_socket(c, POLLOUT | POLLIN, deadline)) return timed_out(op, sql);
      if (!PQconsumeInput(c)) return lost(op, sql, PQerrorMessage(c));
    }
  }

  Result<PGresult*> next_result(SteadyClock::time_point deadline, std::string_view op,
                                std::string_view sql) {
    PGconn* c = conn_.handle;
    while (PQisBusy(c)) {
      if (!wait_socket(c, POLLIN, deadline)) return timed_out(op, sql);
      if (!PQconsumeInput(c)) return lost(op, sql, PQerrorMessage(c));
    }
    return PQgetResult(c);
  }

  tl::unexpected<Error> lost(std::string_view op, std::string_view sql, std::string_view why) {
    conn_.broken = true;
    last_failure_ = Failure::kUnavailable;
    std::string message(why);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    log::warn("postgres connection lost", {{"op", op}, {"message", message}, {"sql", cut(sql)}});
    return fail(Error::unavailable("database unavailable"));
  }

  tl::unexpected<Error> timed_out(std::string_view op, std::string_view sql) {
    // The connection may still deliver a late answer: it cannot be reused.
    conn_.broken = true;
    conn_.timed_out = true;
    last_failure_ = Failure::kUnavailable;
    log::warn("postgres round trip timed out", {{"op", op}, {"sql", cut(sql)}});
    return fail(Error::unavailable("database timeout"));
  }

  tl::unexpected<Error> failed(const PGresult* r, std::string_view op, std::string_view sql) {
    const bool bad = PQstatus(conn_.handle) == CONNECTION_BAD;
    const std::string_view sqlstate = field(r, PG_DIAG_SQLSTATE);
    const std::string_view severity = field(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const Failure f = classify(sqlstate, severity, bad);
    last_failure_ = f;
    if (f == Failure::kUnavailable && (bad || severity == "FATAL" || severity == "PANIC"))
      conn_.broken = true;
    if (f != Failure::kConflict) {
      std::string message(r ? field(r, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(conn_.handle));
      while (!message.empty() && message.back() == '\n') message.pop_back();
      nlohmann::json fields = {{"op", op},
                               {"sqlstate", sqlstate},
                               {"message", message},
                               {"sql", around(sql, field(r, PG_DIAG_STATEMENT_POSITION))}};
      if (f == Failure::kInternal || f == Failure::kInvalid)
        log::error("postgres error", fields);
      else
        log::warn("postgres unavailable", fields);
    }
    return fail(to_error(f, sqlstate));
  }

  Connection& conn_;
  Failure last_failure_ = Failure::kNone;
};

// A scope variable's value. Ids are UUIDs: anything else names an organization or user that
// cannot exist, which sees no rows, as the same filter does on SQLite (the policies' uuid cast
// would turn it into an error instead).
std::string scope_value(const std::optional<std::string>& id) {
  if (!id || id->empty()) return "";
  if (!is_uuid(*id)) return "00000000-0000-0000-0000-000000000000";
  return *id;
}

std::string param_text(const Value& v, bool& is_null) {
  is_null = false;
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          is_null = true;
          return {};
        } else if constexpr (std::is_same_v<T, bool>) {
          // Valid input for boolean and for integer columns alike (SQLite stores 1/0).
          return x ? "1" : "0";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isnan(x)) return "NaN";
          if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
          char buf[32];
          auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, x);
          return std::string(buf, ptr);
        } else {
          return x;
        }
      },
      v.variant());
}

// The scope statement run at the start of every transaction (docs/POSTGRESQL.md). Parameters:
// app.org_id, app.user_id, app.cross_tenant_read, statement_timeout and, in the first form,
// idle_in_transaction_session_timeout.
constexpr const char* kScopeWithIdleTimeout =
    "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true),"
    " set_config('app.cross_tenant_read', $3, true), set_config('statement_timeout', $4, true),"
    " set_config('idle_in_transaction_session_timeout', $5, true),"
    " set_config('DateStyle', 'ISO', true),"
    " set_config('TimeZone', 'UTC', true)";
constexpr const char* kScope =
    "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true),"
    " set_config('app.cross_tenant_read', $3, true), set_config('statement_timeout', $4, true),"
    " set_config('DateStyle', 'ISO', true),"
    " set_config('TimeZone', 'UTC', true)";
// The same scope through set_scope() (migrations/postgres/0011), once a database has it: a CALL
// is analysed but not planned, and the procedure's own statements are planned once per server
// connection, where the SELECT above was parsed and planned anew in every transaction. $5 NULL
// leaves idle_in_transaction_session_timeout as it is.
constexpr const char* kScopeCall = "CALL public.set_scope($1, $2, $3, $4, $5)";
// Whether the database has set_scope(), asked once when it is opened.
constexpr const char* kScopeCallable =
    "SELECT to_regprocedure('public.set_scope(text, text, text, text, text)') IS NOT NULL";

// Tx::lock(): a transaction-scoped advisory lock on the key's 64-bit hash.
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

// A statement's parameters as libpq takes them: text, or null for NULL.
class ParamTexts {
 public:
  // Errors: kInvalidRequest for text holding NUL, kInternal past the protocol's 65535.
  Result<void> set(Params params, std::string_view sql) {
    if (params.size() > 65535) {
      log::error("postgres statement has too many parameters", {{"sql", cut(sql)}});
      return fail(Error::internal());
    }
    texts_.resize(params.size());
    values_.resize(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      bool is_null = false;
      texts_[i] = param_text(params[i], is_null);
      if (!is_null && texts_[i].find('\0') != std::string::npos)
        return fail(to_error(Failure::kInvalid, ""));
      values_[i] = is_null ? nullptr : texts_[i].c_str();
    }
    return {};
  }

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }

 private:
  std::vector<std::string> texts_;
  std::vector<const char*> values_;
};

class PgTx final : public Tx {
 public:
  // `max_wait` caps every round trip's deadline (the probe's, ping()).
  // `scope_call`: the scope is set with set_scope() (kScopeCall) rather than as SQL.
  PgTx(Connection& conn, const Options& options, const TxOptions& scope, bool scope_call,
       SteadyClock::duration max_wait = SteadyClock::duration::max())
      : conn_(conn),
        channel_(conn),
        options_(options),
        max_wait_(max_wait),
        scope_call_(scope_call),
        read_only_(scope.read_only),
        cross_tenant_read_(!scope.cross_tenant_read.empty()),
        tenant_(scope_value(scope.tenant)),
        user_(scope_value(scope.user)) {}

  Failure last_failure() const { return channel_.last_failure(); }
  bool commit_sent() const { return commit_sent_; }

  Result<Rows> query(std::string_view sql, Params params) override {
    auto r = run_params(sql, params, "query");
    if (!r) return fail(r.error());
    return to_rows(std::move(*r));
  }

  Result<Rows> query_and_commit(std::string_view sql, Params params) override {
    using Step = Channel::Step;
    if (committed_) return after_commit(sql);
    ParamTexts texts;
    if (auto ok = texts.set(params, sql); !ok) return fail(ok.error());
    const std::string text(sql);
    // From here a lost connection leaves the outcome unknown: the body is not run again.
    commit_sent_ = true;
    Result<PgResult> r;
    if (!open_) {
      r = track(open(text, texts, "query", /*and_commit=*/true));
    } else {
      // Deferred statements go first, in the same round trip.
      std::vector<std::string_view> sqls;
      for (const Deferred& d : deferred_) sqls.push_back(d.sql);
      sqls.insert(sqls.end(), {sql, "COMMIT"});
      std::vector<Step> steps(deferred_.size() + 1, Step::kStatement);
      steps.insert(steps.end(), {Step::kCommit, Step::kSync});
      const auto deferred = std::move(deferred_);
      deferred_.clear();
      r = track(channel_.pipeline(
          [&](PGconn* c) {
            return send_all(c, deferred) &&
                   PQsendQueryParams(c, text.c_str(), texts.size(), nullptr, texts.values(),
                                     nullptr, nullptr, 0) &&
                   PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) &&
                   PQpipelineSync(c);
          },
          steps, statement_deadline(), "query", sql, sqls));
    }
    // A failed statement skipped the COMMIT: the transaction is open, aborted, for rollback().
    if (!r) return fail(r.error());
    open_ = false;
    committed_ = true;
    return to_rows(std::move(*r));
  }

  Result<std::int64_t> execute(std::string_view sql, Params params) override {
    if (committed_) return after_commit(sql);
    auto r = run_params(sql, params, "execute");
    if (!r) return fail(r.error());
    std::int64_t n = 0;
    parse_int(PQcmdTuples(r->get()), n);
    return n;
  }

  // Queued and sent in pipeline mode ahead of the transaction's next statement or its COMMIT, in
  // the same round trip: a write of n statements whose results nobody reads costs one round trip
  // with its COMMIT instead of n + 1 (each waits at the server and in PgBouncer, and each
  // message is a wake-up, a read and a write in all three processes). A read-only transaction
  // has no deferred COMMIT to carry them (it is not waited for): there they run at once.
  Result<void> execute_deferred(std::string_view sql, Params params) override {
    if (committed_) return after_commit(sql);
    if (read_only_) {
      auto r = execute(sql, params);
      if (!r) return fail(r.error());
      return {};
    }
    Deferred& d = deferred_.emplace_back();
    d.sql = std::string(sql);
    if (auto ok = d.params.set(params, sql); !ok) {
      deferred_.pop_back();
      return fail(ok.error());
    }
    return {};
  }

  Result<void> execute_script(std::string_view sql) override {
    if (committed_) return after_commit(sql);
    if (!open_ || !deferred_.empty()) {
      if (auto begun = run_params({}, {}, "begin"); !begun) return fail(begun.error());
    }
    const std::string text(sql);
    auto r = track(channel_.exchange([&](PGconn* c) { return PQsendQuery(c, text.c_str()); },
                                     statement_deadline(), "script", sql));
    if (!r) return fail(r.error());
    return {};
  }

  Result<void> lock(std::string_view key) override {
    // Held until the transaction ends: from here on, a read-only transaction's statements share
    // one server transaction.
    if (committed_) return after_commit("lock");
    locked_ = true;
    // Before the first statement: taken in its round trip.
    if (!open_) {
      pending_lock_ = std::string(key);
      return {};
    }
    const Value name(key);
    auto r = run_params(kLock, Params(&name, 1), "lock");
    if (!r) return fail(r.error());
    return {};
  }

  std::string_view dialect() const override { return "postgresql"; }

  Result<void> set_scope(const std::optional<std::string>& tenant,
                         const std::optional<std::string>& user) override {
    // Deferred statements were written for the scope they were deferred in.
    if (!open_ && !deferred_.empty()) {
      if (auto begun = run_params({}, {}, "begin"); !begun) return fail(begun.error());
    }
    tenant_ = scope_value(tenant);
    user_ = scope_value(user);
    // Otherwise the next statement's round trip sets it.
    if (!open_) return {};
    const Value values[] = {Value(tenant_), Value(user_)};
    auto r =
        run_params("SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true)",
                   Params(values), "scope");
    if (!r) return fail(r.error());
    return {};
  }

  // Ends a transaction whose body succeeded. A read-only transaction's COMMIT is sent without
  // waiting for the answer (it cannot change what the body read), a writing one's is waited for;
  // one with nothing open on the server (no statement, or only statements that committed in
  // their own round trip) has nothing to end.
  Result<void> commit() {
    if (!deferred_.empty() && !open_) {
      // Only deferred statements: they open the transaction in a round trip of their own, which
      // may be re-run on a fresh connection when the pooled one turns out dead (run()); a COMMIT
      // in the same round trip would leave its outcome unknown then.
      if (auto begun = run_params({}, {}, "begin"); !begun) return fail(begun.error());
    }
    if (!deferred_.empty()) {
      // The deferred statements and the COMMIT in one round trip.
      commit_sent_ = true;
      auto r = run_params("COMMIT", {}, "commit");
      if (!r) return fail(r.error());
      if (std::string_view(PQcmdStatus(r->get())) != "COMMIT") {
        log::error("postgres transaction was rolled back at commit: a statement had failed");
        return fail(Error::internal());
      }
      return {};
    }
    if (!open_) return {};
    commit_sent_ = true;
    if (read_only_ && !statement_failed_) {
      // Sent or not, the reads stand: a COMMIT that does not arrive ends the transaction too,
      // with the connection.
      (void)channel_.send_deferred_commit(statement_deadline());
      return {};
    }
    auto r = channel_.exchange([](PGconn* c) { return PQsendQuery(c, "COMMIT"); },
                               statement_deadline(), "commit", "COMMIT");
    if (!r) return fail(r.error());
    // COMMIT of a transaction that already failed answers ROLLBACK, without an error.
    if (std::string_view(PQcmdStatus(r->get())) != "COMMIT") {
      log::error("postgres transaction was rolled back at commit: a statement had failed");
      return fail(Error::internal());
    }
    return {};
  }

  void rollback() {
    if (!open_ || conn_.broken) return;
    auto r = channel_.exchange([](PGconn* c) { return PQsendQuery(c, "ROLLBACK"); },
                               statement_deadline(), "rollback", "ROLLBACK");
    (void)r;
  }

 private:
  SteadyClock::time_point statement_deadline() const {
    if (options_.statement_timeout.count() == 0) return capped(SteadyClock::time_point::max());
    return capped(SteadyClock::now() + options_.statement_timeout + kDeadlineMargin);
  }

  SteadyClock::time_point capped(SteadyClock::time_point deadline) const {
    if (max_wait_ == SteadyClock::duration::max()) return deadline;
    return std::min(deadline, SteadyClock::now() + max_wait_);
  }

  tl::unexpected<Error> after_commit(std::string_view sql) {
    log::error("postgres statement after the transaction's commit", {{"sql", cut(sql)}});
    return fail(Error::internal());
  }

  template <class T>
  Result<T> track(Result<T> r) {
    if (!r) statement_failed_ = true;
    return r;
  }

  // Runs a statement; one with no transaction open on the server opens one (open()). An empty
  // `sql` only opens the transaction.
  Result<PgResult> run_params(std::string_view sql, Params params, std::string_view op) {
    if (committed_) return after_commit(sql);
    ParamTexts texts;
    if (auto ok = texts.set(params, sql); !ok) return fail(ok.error());
    const std::string text(sql);
    if (!open_) return track(open(text, texts, op));
    if (!deferred_.empty()) return track(with_deferred(text, texts, op));
    return track(channel_.exchange(
        [&](PGconn* c) {
          return PQsendQueryParams(c, text.c_str(), texts.size(), nullptr, texts.values(), nullptr,
                                   nullptr, 0);
        },
        statement_deadline(), op, sql));
  }

  // A server transaction's first round trip, in pipeline mode: the connection's deferred COMMIT,
  // if any, is read; then BEGIN, the scope (set in every transaction, also when empty, so that a
  // session-level SET left on a shared server connection by anyone cannot widen this
  // transaction's view) and the first statement, `sql`, go together. A read-only transaction
  // that holds no lock commits in the same round trip: under READ COMMITTED each statement sees
  // what was committed when it started, in one server transaction or in one per statement, and
  // the next statement opens another with the same scope. BEGIN is where PgBouncer queues a
  // client until a server connection is free, so the deadline allows the connect timeout for
  // that on top of the statement's own. A lock() taken before it goes after the scope, and with
  // `and_commit` the transaction's COMMIT after the statement (query_and_commit()).
  Result<PgResult> open(const std::string& sql, const ParamTexts& params, std::string_view op,
                        bool and_commit = false) {
    using Step = Channel::Step;
    const bool commit = and_commit || (read_only_ && !locked_ && !sql.empty());
    const std::optional<std::string> lock_key = std::move(pending_lock_);
    pending_lock_.reset();
    const char* lock_params[] = {lock_key ? lock_key->c_str() : nullptr};
    const std::string timeout = std::to_string(options_.statement_timeout.count());
    const std::string idle_timeout = std::to_string(options_.statement_timeout.count() * 3);
    const bool idle = options_.statement_timeout.count() > 0;
    // A client that stalls mid-transaction must not hold a server connection for ever.
    const char* scope[] = {tenant_.c_str(), user_.c_str(), cross_tenant_read_ ? "on" : "",
                           timeout.c_str(), idle ? idle_timeout.c_str() : nullptr};
    const char* scope_sql = scope_call_ ? kScopeCall : idle ? kScopeWithIdleTimeout : kScope;
    const int scope_params = scope_call_ || idle ? 5 : 4;
    std::vector<Step> steps;
    if (conn_.commit_pending) steps = {Step::kEarlier, Step::kSync};
    steps.insert(steps.end(), {Step::kStatement, Step::kStatement});
    if (lock_key) steps.push_back(Step::kStatement);
    steps.insert(steps.end(), deferred_.size(), Step::kStatement);
    if (!sql.empty()) steps.push_back(Step::kStatement);
    if (commit) steps.push_back(Step::kCommit);
    steps.push_back(Step::kSync);
    auto deadline = SteadyClock::time_point::max();
    if (options_.statement_timeout.count() > 0)
      deadline = SteadyClock::now() + options_.connect_timeout + options_.statement_timeout +
                 kDeadlineMargin;
    // Until it is known to have committed, a failed round trip may leave the server in the
    // (aborted) transaction: rollback() ends it.
    open_ = true;
    std::vector<std::string_view> texts{"BEGIN", "scope"};
    if (lock_key) texts.push_back(kLock);
    for (const Deferred& d : deferred_) texts.push_back(d.sql);
    texts.push_back(sql);
    const auto deferred = std::move(deferred_);
    deferred_.clear();
    auto r = channel_.pipeline(
        [&](PGconn* c) {
          return PQsendQueryParams(c, read_only_ ? "BEGIN READ ONLY" : "BEGIN", 0, nullptr, nullptr,
                                   nullptr, nullptr, 0) &&
                 PQsendQueryParams(c, scope_sql, scope_params, nullptr, scope, nullptr, nullptr,
                                   0) &&
                 (!lock_key ||
                  PQsendQueryParams(c, kLock, 1, nullptr, lock_params, nullptr, nullptr, 0)) &&
                 send_all(c, deferred) &&
                 (sql.empty() || PQsendQueryParams(c, sql.c_str(), params.size(), nullptr,
                                                   params.values(), nullptr, nullptr, 0)) &&
                 (!commit ||
                  PQsendQueryParams(c, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0)) &&
                 PQpipelineSync(c);
        },
        steps, capped(deadline), op,
        sql.empty() ? std::string_view("BEGIN") : std::string_view(sql), texts);
    if (r && commit) open_ = false;
    return r;
  }

  // A statement after the deferred ones, in one round trip of an open transaction. An empty
  // `sql` sends only those.
  Result<PgResult> with_deferred(const std::string& sql, const ParamTexts& params,
                                 std::string_view op) {
    using Step = Channel::Step;
    std::vector<std::string_view> texts;
    for (const Deferred& d : deferred_) texts.push_back(d.sql);
    if (!sql.empty()) texts.push_back(sql);
    std::vector<Step> steps(texts.size(), Step::kStatement);
    steps.push_back(Step::kSync);
    const auto deferred = std::move(deferred_);
    deferred_.clear();
    return channel_.pipeline(
        [&](PGconn* c) {
          return send_all(c, deferred) &&
                 (sql.empty() || PQsendQueryParams(c, sql.c_str(), params.size(), nullptr,
                                                   params.values(), nullptr, nullptr, 0)) &&
                 PQpipelineSync(c);
        },
        steps, statement_deadline(), op, texts.back(), texts);
  }

  struct Deferred {
    std::string sql;
    ParamTexts params;
  };

  static bool send_all(PGconn* c, const std::deque<Deferred>& deferred) {
    for (const Deferred& d : deferred) {
      if (!PQsendQueryParams(c, d.sql.c_str(), d.params.size(), nullptr, d.params.values(), nullptr,
                             nullptr, 0))
        return false;
    }
    return true;
  }

  Connection& conn_;
  Channel channel_;
  const Options& options_;
  const SteadyClock::duration max_wait_;
  const bool scope_call_;
  const bool read_only_;
  const bool cross_tenant_read_;
  std::string tenant_;  // scope values (scope_value())
  std::string user_;
  bool open_ = false;    // a server transaction is open (or may be: a round trip failed)
  bool locked_ = false;  // lock() was called
  std::optional<std::string> pending_lock_;  // lock()'s key, to be taken with the first statement
  bool committed_ = false;                   // by query_and_commit()
  bool commit_sent_ = false;
  bool statement_failed_ = false;
  // execute_deferred()'s statements not sent yet (a deque: their parameter texts stay in place).
  std::deque<Deferred> deferred_;
};

void ignore_notice(void*, const char* message) {
  std::string m(message ? message : "");
  while (!m.empty() && m.back() == '\n') m.pop_back();
  log::debug("postgres notice", {{"message", m}});
}

Result<std::unique_ptr<Connection>> open_connection(const Options& options) {
  const auto seconds = std::max<std::int64_t>(
      2, std::chrono::ceil<std::chrono::seconds>(options.connect_timeout).count());
  const std::string timeout = std::to_string(seconds);
  // Defaults first: settings written in the URL come later in the expansion and win.
  const char* keys[] = {"connect_timeout",  "application_name", "client_encoding",
                        "keepalives",       "keepalives_idle",  "keepalives_interval",
                        "keepalives_count", "dbname",           nullptr};
  const char* values[] = {timeout.c_str(),     "atrium", "UTF8", "1", "30", "10", "3",
                          options.url.c_str(), nullptr};
  auto conn = std::make_unique<Connection>();
  conn->handle = PQconnectdbParams(keys, values, 1);
  if (!conn->handle || PQstatus(conn->handle) != CONNECTION_OK) {
    std::string message = conn->handle ? PQerrorMessage(conn->handle) : "out of memory";
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    log::warn("cannot connect to postgres", {{"message", message}});
    return fail(Error::unavailable("database unavailable"));
  }
  PQsetNoticeProcessor(conn->handle, ignore_notice, nullptr);
  if (PQsetnonblocking(conn->handle, 1) != 0) {
    log::error("postgres connection refuses non-blocking mode");
    return fail(Error::internal());
  }
  return conn;
}

class PgDatabase final : public Database {
 public:
  explicit PgDatabase(Options options) : options_(std::move(options)) {}

  ~PgDatabase() override {
    std::lock_guard lock(mu_);
    idle_.clear();
  }

  std::string_view dialect() const override { return "postgresql"; }

  // A readiness probe answers within the connect timeout: behind PgBouncer a stopped server
  // makes the query wait for a server connection, and a probe that waited the statement timeout
  // too would outlast the prober's own timeout instead of reporting the database down.
  Result<void> ping() override {
    return attempt(
        {.read_only = true},
        [](Tx& tx) -> Result<void> {
          auto r = tx.query("SELECT 1");
          if (!r) return fail(r.error());
          return {};
        },
        options_.connect_timeout + kDeadlineMargin);
  }

  // Sets the scope with set_scope() from now on if the database has it (migrated to 0011): a
  // database opened before its migrations, or never migrated, keeps the scope as SQL.
  Result<void> detect_scope_procedure() {
    auto r = attempt(
        {.read_only = true},
        [&](Tx& tx) -> Result<void> {
          auto row = tx.query_one(kScopeCallable);
          if (!row) return fail(row.error());
          scope_call_.store(*row && (**row).boolean(0), std::memory_order_relaxed);
          return {};
        },
        options_.connect_timeout + kDeadlineMargin);
    return r;
  }

  Result<void> lock_for_migration(Tx& tx) override {
    // Transaction-scoped, so it works through PgBouncer and is released by COMMIT or ROLLBACK.
    auto r = tx.query("SELECT pg_advisory_xact_lock($1)", {kMigrationLockKey});
    if (!r) return fail(r.error());
    return {};
  }

 protected:
  Result<void> run(const TxOptions& options,
                   const std::function<Result<void>(Tx&)>& body) override {
    if (auto admitted = admit(options); !admitted) return admitted;
    return attempt(options, body, SteadyClock::duration::max());
  }

 private:
  // Runs `body` in a transaction, again on a fresh connection after a lost one (see below);
  // `max_wait` caps each round trip (PgTx).
  Result<void> attempt(const TxOptions& options, const std::function<Result<void>(Tx&)>& body,
                       SteadyClock::duration max_wait) {
    for (int attempt = 1;; ++attempt) {
      auto lease = acquire();
      if (!lease) return fail(lease.error());
      struct Release {
        PgDatabase* self;
        std::unique_ptr<Connection>* conn;
        ~Release() { self->release(std::move(*conn)); }
      } release{this, &*lease};
      PgTx tx(**lease, options_, options, scope_call_.load(std::memory_order_relaxed), max_wait);
      Result<void> result;
      try {
        result = body(tx);
      } catch (...) {
        tx.rollback();
        throw;
      }
      if (result) result = tx.commit();
      if (result) return {};
      tx.rollback();
      // A pooled connection may have died with a server restart: the body runs again on a fresh
      // one, unless the outcome of its COMMIT is unknown. One that timed out is not re-run: the
      // caller has waited long enough.
      const bool lost_before_commit = (*lease)->broken && !(*lease)->timed_out && !tx.commit_sent();
      if ((tx.last_failure() == Failure::kTransient || lost_before_commit) &&
          attempt < kMaxAttempts)
        continue;
      return result;
    }
  }

  Result<std::unique_ptr<Connection>> acquire() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, options_.acquire_timeout,
                      [&] { return !idle_.empty() || open_ < options_.pool_size; })) {
      log::warn("postgres pool exhausted", {{"pool_size", options_.pool_size}});
      return fail(Error::unavailable("database busy"));
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    if (SteadyClock::now() < retry_after_) return fail(Error::unavailable("database unavailable"));
    ++open_;
    lock.unlock();
    auto conn = open_connection(options_);
    if (!conn) {
      lock.lock();
      --open_;
      retry_after_ = SteadyClock::now() + options_.reconnect_backoff;
      cv_.notify_one();
    }
    return conn;
  }

  void release(std::unique_ptr<Connection> conn) {
    std::vector<std::unique_ptr<Connection>> dropped;
    {
      std::lock_guard lock(mu_);
      if (!conn->broken &&
          (conn->commit_pending || PQtransactionStatus(conn->handle) == PQTRANS_IDLE)) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;
        if (conn->broken) {
          // The idle connections were made to the same server: most likely broken as well.
          open_ -= static_cast<int>(idle_.size());
          for (auto& c : idle_) dropped.push_back(std::move(c));
          idle_.clear();
        }
        dropped.push_back(std::move(conn));
      }
      cv_.notify_all();
    }
  }

  Options options_;
  std::atomic<bool> scope_call_{false};  // detect_scope_procedure()
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  SteadyClock::time_point retry_after_{};
};

}  // namespace

Result<std::unique_ptr<Database>> open(const Options& options) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &error);
  if (!parsed) {
    // libpq's message may quote the URL, password included: keep it out of the logs.
    if (error) PQfreemem(error);
    return fail(Error::invalid("invalid PostgreSQL URL"));
  }
  PQconninfoFree(parsed);
  if (options.pool_size < 1) return fail(Error::invalid("pool size must be at least 1"));
  auto db = std::make_unique<PgDatabase>(options);
  if (auto probe = db->ping(); !probe) return fail(probe.error());
  if (auto scope = db->detect_scope_procedure(); !scope) return fail(scope.error());
  return std::unique_ptr<Database>(std::move(db));
}

// ------------------------------------------------------------------------------ AdminSession

struct AdminSession::Impl {
  std::unique_ptr<Connection> conn;
};

AdminSession::AdminSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminSession::AdminSession(AdminSession&& other) noexcept = default;
AdminSession::~AdminSession() = default;

Result<AdminSession> AdminSession::connect(const std::string& url) {
  Options options;
  options.url = url;
  options.statement_timeout = std::chrono::milliseconds(0);
  auto conn = open_connection(options);
  if (!conn) return fail(conn.error());
  auto impl = std::make_unique<Impl>();
  impl->conn = std::move(*conn);
  return AdminSession(std::move(impl));
}

Result<Rows> AdminSession::run(std::string_view sql) {
  Channel channel(*impl_->conn);
  const std::string text(sql);
  auto r = channel.exchange([&](PGconn* c) { return PQsendQuery(c, text.c_str()); },
                            SteadyClock::time_point::max(), "admin", sql);
  if (!r) return fail(r.error());
  return to_rows(std::move(*r));
}

std::string AdminSession::literal(std::string_view text) const {
  const std::string s(text);
  char* q = PQescapeLiteral(impl_->conn->handle, s.c_str(), s.size());
  std::string out = q ? q : "''";
  if (q) PQfreemem(q);
  return out;
}

std::string AdminSession::identifier(std::string_view text) const {
  const std::string s(text);
  char* q = PQescapeIdentifier(impl_->conn->handle, s.c_str(), s.size());
  std::string out = q ? q : "\"\"";
  if (q) PQfreemem(q);
  return out;
}

// ------------------------------------------------------------------------------ timestamps

namespace {

// Whether the `n` bytes of `s` from `pos` are all ASCII digits.
bool all_digits(std::string_view s, std::size_t pos, std::size_t n) {
  for (std::size_t i = pos; i < pos + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

// The common case, a time in UTC (every transaction's scope sets TimeZone):
// "YYYY-MM-DD HH:MM:SS[.f{1,6}]+00" is the RFC 3339 form's digits as they are, so they are
// copied rather than read and rewritten. False for anything else.
bool write_utc_rfc3339(std::string_view s, char* result) {
  constexpr std::size_t kSeconds = 19;  // "YYYY-MM-DD HH:MM:SS"
  if (s.size() < kSeconds + 3 || s.size() > kSeconds + 10 || s.substr(s.size() - 3) != "+00" ||
      s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
      !all_digits(s, 0, 4) || !all_digits(s, 5, 2) || !all_digits(s, 8, 2) ||
      !all_digits(s, 11, 2) || !all_digits(s, 14, 2) || !all_digits(s, 17, 2))
    return false;
  const std::size_t fraction = s.size() - kSeconds - 3;  // with its '.'
  if (fraction == 1 ||
      (fraction > 1 && (s[kSeconds] != '.' || !all_digits(s, kSeconds + 1, fraction - 1))))
    return false;
  std::memcpy(result, s.data(), kSeconds);
  result[10] = 'T';
  std::memcpy(result + kSeconds, ".000000Z", 8);
  if (fraction > 1) std::memcpy(result + kSeconds + 1, s.data() + kSeconds + 1, fraction - 1);
  return true;
}

bool write_rfc3339(std::string_view s, bool with_zone, char* result) {
  if (with_zone && write_utc_rfc3339(s, result)) return true;
  // ISO DateStyle: "YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]]"
  auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int year, mon, day, hour, min, sec;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
      !digits(0, 4, year) || !digits(5, 2, mon) || !digits(8, 2, day) || !digits(11, 2, hour) ||
      !digits(14, 2, min) || !digits(17, 2, sec))
    return false;
  std::size_t pos = 19;
  char frac[7] = "000000";
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) frac[n] = s[pos];
      ++n;
      ++pos;
    }
    if (n == 0) return false;
  }
  int offset_seconds = 0;
  if (with_zone) {
    if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
    const int sign = s[pos] == '-' ? -1 : 1;
    int oh = 0, om = 0, os = 0;
    if (!digits(pos + 1, 2, oh)) return false;
    pos += 3;
    if (pos < s.size() && s[pos] == ':') {
      if (!digits(pos + 1, 2, om)) return false;
      pos += 3;
      if (pos < s.size() && s[pos] == ':') {
        if (!digits(pos + 1, 2, os)) return false;
        pos += 3;
      }
    }
    offset_seconds = sign * (oh * 3600 + om * 60 + os);
  }
  if (pos != s.size()) return false;  // " BC", or anything unexpected

  if (offset_seconds != 0) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    std::time_t t = timegm(&tm) - offset_seconds;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) return false;
    year = tm.tm_year + 1900;
    mon = tm.tm_mon + 1;
    day = tm.tm_mday;
    hour = tm.tm_hour;
    min = tm.tm_min;
    sec = tm.tm_sec;
  }
  // Written digit by digit: this runs for every time column of every row read, and snprintf
  // cost ~3k instructions a call.
  char out[] = "0000-00-00T00:00:00.000000Z";
  static_assert(sizeof(out) == kRfc3339Size + 1);
  auto put = [&out](std::size_t pos, std::size_t width, int value) {
    for (std::size_t i = width; i-- > 0; value /= 10)
      out[pos + i] = static_cast<char>('0' + value % 10);
  };
  put(0, 4, year);
  put(5, 2, mon);
  put(8, 2, day);
  put(11, 2, hour);
  put(14, 2, min);
  put(17, 2, sec);
  std::memcpy(out + 20, frac, 6);
  std::memcpy(result, out, kRfc3339Size);
  return true;
}

}  // namespace

std::string iso_timestamp_to_rfc3339(std::string_view s, bool with_zone) {
  char out[kRfc3339Size];
  if (!write_rfc3339(s, with_zone, out)) return std::string(s);
  return std::string(out, kRfc3339Size);
}

}  // namespace atrium::db::postgres

#include "db/sqlite/sqlite_database.hpp"

#include <sqlite3.h>

#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "platform/log.hpp"

namespace atrium::db::sqlite {
namespace {

constexpr int kMaxAttempts = 5;

struct Connection {
  sqlite3* handle = nullptr;
  // Looked up by the statement's text without copying it (transparent hashing).
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> statements;

  ~Connection() {
    for (auto& [_, stmt] : statements) sqlite3_finalize(stmt);
    sqlite3_close_v2(handle);
  }
};

Error translate(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  // ON DELETE RESTRICT reports through SQLite's trigger machinery (SQLITE_CONSTRAINT_TRIGGER).
  const bool foreign_key = rc == SQLITE_CONSTRAINT_FOREIGNKEY ||
                           (rc == SQLITE_CONSTRAINT_TRIGGER && db &&
                            std::string_view(sqlite3_errmsg(db)).starts_with("FOREIGN KEY"));
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY || foreign_key) {
    return Error::conflict("conflicts with existing data");
  }
  log::error("sqlite error",
             {{"op", what}, {"code", rc}, {"message", db ? sqlite3_errmsg(db) : ""}});
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return Error::unavailable("database busy");
  return Error::internal();
}

bool is_busy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(Connection& conn) : conn_(conn) {}

  bool busy() const { return busy_; }
  bool committed() const { return committed_; }

  Result<Rows> query(std::string_view sql, Params params) override {
    if (committed_) return after_commit(sql);
    std::shared_ptr<ResultSet> rows;
    auto status = step_all(sql, params, &rows);
    if (!status) return fail(status.error());
    rows->finish();
    return Rows(std::move(rows));
  }

  Result<std::int64_t> execute(std::string_view sql, Params params) override {
    if (committed_) return after_commit(sql);
    auto status = step_all(sql, params, nullptr);
    if (!status) return fail(status.error());
    return static_cast<std::int64_t>(sqlite3_changes(conn_.handle));
  }

  Result<Rows> query_and_commit(std::string_view sql, Params params) override {
    auto rows = query(sql, params);
    if (!rows) return rows;
    const int rc = sqlite3_exec(conn_.handle, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      busy_ = busy_ || is_busy(rc);
      return fail(translate(conn_.handle, rc, "commit"));
    }
    committed_ = true;
    return rows;
  }

  Result<void> lock(std::string_view) override { return {}; }  // writers are serialised
  std::string_view dialect() const override { return "sqlite"; }
  Result<void> set_scope(const std::optional<std::string>&,
                         const std::optional<std::string>&) override {
    return {};
  }

  Result<void> execute_script(std::string_view sql) override {
    if (committed_) return after_commit(sql);
    char* message = nullptr;
    std::string text(sql);
    int rc = sqlite3_exec(conn_.handle, text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      busy_ = busy_ || is_busy(rc);
      log::error("sqlite script failed", {{"message", message ? message : ""}});
      sqlite3_free(message);
      return fail(is_busy(rc) ? Error::unavailable("database busy") : Error::internal());
    }
    return {};
  }

 private:
  tl::unexpected<Error> after_commit(std::string_view sql) {
    log::error("sqlite statement after the transaction's commit", {{"sql", std::string(sql)}});
    return fail(Error::internal());
  }

  Result<sqlite3_stmt*> prepare(std::string_view sql) {
    auto it = conn_.statements.find(sql);
    if (it != conn_.statements.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(conn_.handle, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return fail(translate(conn_.handle, rc, "prepare"));
    conn_.statements.emplace(std::string(sql), stmt);
    return stmt;
  }

  Result<void> bind(sqlite3_stmt* stmt, Params params) {
    if (sqlite3_bind_parameter_count(stmt) != static_cast<int>(params.size())) {
      log::error("sqlite parameter count mismatch",
                 {{"sql", sqlite3_sql(stmt)}, {"given", params.size()}});
      return fail(Error::internal());
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      char name[24] = "$";
      *std::to_chars(name + 1, name + sizeof name - 1, i + 1).ptr = '\0';
      int idx = sqlite3_bind_parameter_index(stmt, name);
      if (idx == 0) {
        log::error("sqlite parameter missing", {{"sql", sqlite3_sql(stmt)}, {"name", name}});
        return fail(Error::internal());
      }
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>)
              return sqlite3_bind_null(stmt, idx);
            else if constexpr (std::is_same_v<T, bool>)
              return sqlite3_bind_int(stmt, idx, v ? 1 : 0);
            else if constexpr (std::is_same_v<T, std::int64_t>)
              return sqlite3_bind_int64(stmt, idx, v);
            else if constexpr (std::is_same_v<T, double>)
              return sqlite3_bind_double(stmt, idx, v);
            else
              return sqlite3_bind_text(stmt, idx, v.data(), static_cast<int>(v.size()),
                                       SQLITE_TRANSIENT);
          },
          params[i].variant());
      if (rc != SQLITE_OK) return fail(translate(conn_.handle, rc, "bind"));
    }
    return {};
  }

  // Collects the rows into `*rows` (made here) when `rows` is given. A statement's cells live
  // only until its next step: their text is copied, into the one buffer of the ResultSet.
  Result<void> step_all(std::string_view sql, Params params, std::shared_ptr<ResultSet>* rows) {
    auto stmt = prepare(sql);
    if (!stmt) return fail(stmt.error());
    sqlite3_stmt* s = *stmt;
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{s};
    if (auto b = bind(s, params); !b) return b;
    const int n = sqlite3_column_count(s);
    if (rows) *rows = std::make_shared<ResultSet>(static_cast<std::size_t>(n), 0);
    for (;;) {
      int rc = sqlite3_step(s);
      if (rc == SQLITE_DONE) return {};
      if (rc != SQLITE_ROW) {
        busy_ = busy_ || is_busy(rc);
        return fail(translate(conn_.handle, sqlite3_extended_errcode(conn_.handle), "step"));
      }
      if (!rows) continue;
      ResultSet& set = **rows;
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(s, c)) {
          case SQLITE_NULL:
            set.add_null();
            break;
          case SQLITE_INTEGER:
            set.add_integer(static_cast<std::int64_t>(sqlite3_column_int64(s, c)));
            break;
          case SQLITE_FLOAT:
            set.add_real(sqlite3_column_double(s, c));
            break;
          default: {
            auto text = reinterpret_cast<const char*>(sqlite3_column_text(s, c));
            set.add_text_copy(std::string_view(
                text ? text : "", static_cast<std::size_t>(sqlite3_column_bytes(s, c))));
          }
        }
      }
    }
  }

  Connection& conn_;
  bool busy_ = false;
  bool committed_ = false;  // by query_and_commit()
};

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(Options options) : options_(std::move(options)) {}

  std::string_view dialect() const override { return "sqlite"; }

  Result<void> ping() override {
    return transact(TxOptions{.tenant = std::nullopt, .read_only = true},
                    [](Tx& tx) -> Result<void> {
                      auto r = tx.query("SELECT 1");
                      if (!r) return fail(r.error());
                      return {};
                    });
  }

  Result<void> lock_for_migration(Tx&) override { return {}; }  // BEGIN IMMEDIATE holds the lock

  Result<std::unique_ptr<Connection>> connect() {
    auto conn = std::make_unique<Connection>();
    int rc =
        sqlite3_open_v2(options_.path.c_str(), &conn->handle,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      log::error("cannot open sqlite database",
                 {{"path", options_.path}, {"message", sqlite3_errstr(rc)}});
      return fail(Error::unavailable("database unavailable"));
    }
    sqlite3_extended_result_codes(conn->handle, 1);
    sqlite3_busy_timeout(conn->handle, static_cast<int>(options_.busy_timeout.count()));
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                               "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"}) {
      char* message = nullptr;
      rc = sqlite3_exec(conn->handle, pragma, nullptr, nullptr, &message);
      if (rc != SQLITE_OK) {
        log::error("sqlite pragma failed",
                   {{"pragma", pragma}, {"message", message ? message : ""}});
        sqlite3_free(message);
        return fail(Error::unavailable("database unavailable"));
      }
    }
    return conn;
  }

 protected:
  Result<void> run(const TxOptions& options,
                   const std::function<Result<void>(Tx&)>& body) override {
    if (auto admitted = admit(options); !admitted) return admitted;
    for (int attempt = 1;; ++attempt) {
      auto lease = acquire();
      if (!lease) return fail(lease.error());
      Connection& conn = **lease;
      struct Release {
        SqliteDatabase* self;
        std::unique_ptr<Connection>* conn;
        ~Release() { self->release(std::move(*conn)); }
      } release{this, &*lease};

      std::unique_lock writer(writer_, std::defer_lock);
      if (!options.read_only) writer.lock();

      int rc = sqlite3_exec(conn.handle, options.read_only ? "BEGIN" : "BEGIN IMMEDIATE", nullptr,
                            nullptr, nullptr);
      if (rc != SQLITE_OK) {
        if (is_busy(rc) && attempt < kMaxAttempts) continue;
        return fail(translate(conn.handle, rc, "begin"));
      }
      SqliteTx tx(conn);
      Result<void> result;
      try {
        result = body(tx);
      } catch (...) {
        sqlite3_exec(conn.handle, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
      if (tx.committed()) return {};  // query_and_commit(): the commit stands
      if (!result) {
        sqlite3_exec(conn.handle, "ROLLBACK", nullptr, nullptr, nullptr);
        if (tx.busy() && attempt < kMaxAttempts) continue;
        return result;
      }
      rc = sqlite3_exec(conn.handle, "COMMIT", nullptr, nullptr, nullptr);
      if (rc != SQLITE_OK) {
        sqlite3_exec(conn.handle, "ROLLBACK", nullptr, nullptr, nullptr);
        if (is_busy(rc) && attempt < kMaxAttempts) continue;
        return fail(translate(conn.handle, rc, "commit"));
      }
      return {};
    }
  }

 private:
  Result<std::unique_ptr<Connection>> acquire() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, options_.acquire_timeout,
                      [&] { return !idle_.empty() || open_ < options_.pool_size; })) {
      return fail(Error::unavailable("database busy"));
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
    lock.unlock();
    auto conn = connect();
    if (!conn) {
      std::lock_guard relock(mu_);
      --open_;
      cv_.notify_one();
    }
    return conn;
  }

  void release(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mu_);
    if (conn) idle_.push_back(std::move(conn));
    cv_.notify_one();
  }

  Options options_;
  std::mutex writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

}  // namespace

Result<std::unique_ptr<Database>> open(const Options& options) {
  std::error_code ec;
  auto parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  auto db = std::make_unique<SqliteDatabase>(options);
  // Open one connection now so a bad path or a corrupt file is reported at start-up.
  auto probe = db->ping();
  if (!probe) return fail(probe.error());
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace atrium::db::sqlite

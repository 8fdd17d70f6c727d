// The database interface every store is written against; SQLite (embedded) and PostgreSQL
// (distributed) implement it, so the code above the drivers is the same in both modes.
//
// SQL is portable: positional parameters `$1, $2, …`; ids, times (RFC 3339 text, see
// platform/clock.hpp) and JSON are passed and read as text; booleans as bool. Each driver maps
// its own types to these (PostgreSQL's uuid, timestamptz and jsonb come back as the same text:
// times exactly as format_time() writes them). Rules that keep a statement valid on both (see
// docs/POSTGRESQL.md): compare booleans with a parameter or TRUE/FALSE, never 0/1; pass ids that
// are UUIDs (validate input first: PostgreSQL's uuid columns refuse anything else); no engine
// functions (ifnull, datetime('now'), json_extract…): compute values in C++ and pass them; text
// holds no NUL character (refused as kInvalidRequest); a parameter has one type per statement.
//
// Errors: a unique or foreign-key violation is Code::kConflict; a lost connection, a timeout or a
// busy database is Code::kUnavailable; anything else is Code::kInternal. The driver logs the
// engine's message; the Error carries nothing internal.
//
// A Database is thread-safe; a Tx belongs to the thread running the transaction body.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "platform/error.hpp"

namespace atrium::db {

// A parameter or a result cell.
class Value {
 public:
  using Variant = std::variant<std::nullptr_t, bool, std::int64_t, double, std::string>;

  Value() : v_(nullptr) {}
  Value(std::nullptr_t) : v_(nullptr) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(const std::optional<std::string>& s) : v_(nullptr) {
    if (s) v_ = *s;
  }

  const Variant& variant() const { return v_; }
  bool is_null() const { return std::holds_alternative<std::nullptr_t>(v_); }

 private:
  Variant v_;
};

using Params = std::span<const Value>;

class Row;
class Rows;

// The cells of one query's result, filled by a driver and read only after that; shared by its
// Rows and every Row taken from them. Text is stored once, in the driver's own result memory
// (PostgreSQL: the PGresult, kept alive by `owner`) or in one buffer of this set (SQLite, and
// values a driver rewrites, such as PostgreSQL's timestamps), never one string per cell.
class ResultSet {
 public:
  enum class Kind : std::uint8_t { kNull, kBool, kInteger, kReal, kText };

  // `owner` keeps memory that add_text_ref() cells point into alive for the set's lifetime.
  ResultSet(std::size_t columns, std::size_t rows_hint, std::shared_ptr<const void> owner = {});

  void add_null() { cells_.push_back(Cell{}); }
  void add_bool(bool v) { cells_.push_back(Cell{.kind = Kind::kBool, .integer = v ? 1 : 0}); }
  void add_integer(std::int64_t v);
  void add_real(double v);
  // Text that lives as long as `owner` does: not copied.
  void add_text_ref(std::string_view v);
  // Text copied into the set's buffer.
  void add_text_copy(std::string_view v);
  // Room for `bytes` of copied text, so that the buffer grows once.
  void reserve_copies(std::size_t bytes) { buffer_.reserve(buffer_.size() + bytes); }
  // Makes the copied texts readable; called once, after the last add_*().
  void finish();

  std::size_t columns() const { return columns_; }
  std::size_t rows() const { return columns_ == 0 ? 0 : cells_.size() / columns_; }

 private:
  friend class Row;
  struct Cell {
    Kind kind = Kind::kNull;
    bool copied = false;  // its text is in buffer_ at offset `number` until finish()
    std::int64_t number = 0;
    std::int64_t integer = 0;    // kBool (0 or 1), kInteger
    double real = 0;             // kReal
    const char* data = nullptr;  // the text of kText, kInteger and kReal
    std::size_t size = 0;
  };
  const Cell& cell(std::size_t row, std::size_t column) const;

  std::size_t columns_;
  std::vector<Cell> cells_;
  std::string buffer_;
  std::shared_ptr<const void> owner_;
};

// One result row; cells by column index (out of range: std::out_of_range, a programming error).
// Accessors convert between the drivers' representations (SQLite's native types, PostgreSQL's
// text) so stores read the same way on both. A Row is a handle on its query's ResultSet: cheap to
// copy, and view()/optional_view() stay valid while any Row or Rows of that query lives. Reading
// is thread-safe (the set never changes once handed out).
class Row {
 public:
  Row(std::shared_ptr<const ResultSet> set, std::size_t index)
      : set_(std::move(set)), index_(index) {}

  std::size_t size() const { return set_ ? set_->columns() : 0; }
  bool is_null(std::size_t i) const { return cell(i).kind == ResultSet::Kind::kNull; }
  // The cell as text without copying: "" for NULL, numbers in decimal. A boolean reads as its
  // backend holds it: "true"/"false" on PostgreSQL, "1"/"0" on SQLite (an integer there); read
  // booleans with boolean().
  std::string_view view(std::size_t i) const;
  std::optional<std::string_view> optional_view(std::size_t i) const;
  std::string text(std::size_t i) const { return std::string(view(i)); }  // "" for NULL
  std::optional<std::string> optional_text(std::size_t i) const;
  std::int64_t integer(std::size_t i) const;  // 0 for NULL
  double real(std::size_t i) const;
  bool boolean(std::size_t i) const;

 private:
  const ResultSet::Cell& cell(std::size_t i) const;

  std::shared_ptr<const ResultSet> set_;
  std::size_t index_;
};

// A query's rows: a read-only sequence of Row handles over one ResultSet (empty when default
// constructed).
class Rows {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Row;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Row;

    Iterator() = default;
    Iterator(const Rows* rows, std::size_t index) : rows_(rows), index_(index) {}
    Row operator*() const { return (*rows_)[index_]; }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator before = *this;
      ++index_;
      return before;
    }
    bool operator==(const Iterator& other) const { return index_ == other.index_; }

   private:
    const Rows* rows_ = nullptr;
    std::size_t index_ = 0;
  };

  Rows() = default;
  explicit Rows(std::shared_ptr<const ResultSet> set) : set_(std::move(set)) {}

  std::size_t size() const { return set_ ? set_->rows() : 0; }
  bool empty() const { return size() == 0; }
  Row operator[](std::size_t i) const { return Row(set_, i); }
  Row front() const { return (*this)[0]; }
  Row back() const { return (*this)[size() - 1]; }
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, size()); }

 private:
  std::shared_ptr<const ResultSet> set_;
};

// A transaction in progress.
class Tx {
 public:
  virtual ~Tx() = default;

  virtual Result<Rows> query(std::string_view sql, Params params) = 0;
  // Returns the number of rows changed.
  virtual Result<std::int64_t> execute(std::string_view sql, Params params) = 0;
  // A write whose result the caller does not read: it runs, in order, no later than the
  // transaction's next statement or its commit, and its error is that statement's or the
  // commit's (a unique or foreign-key violation at commit is kConflict, and the transaction rolls
  // back as for any failed statement). Parameters are checked at once (kInvalidRequest for text
  // holding NUL). PostgreSQL sends deferred statements in the same round trip as the next one or
  // as COMMIT; the default (SQLite) runs the statement at once.
  virtual Result<void> execute_deferred(std::string_view sql, Params params) {
    auto r = execute(sql, params);
    if (!r) return fail(r.error());
    return {};
  }
  // Several statements without parameters (migrations).
  virtual Result<void> execute_script(std::string_view sql) = 0;
  // Runs `sql` as the transaction's last statement and commits the transaction with it; its rows
  // once committed. On PostgreSQL the COMMIT travels in the statement's round trip (and so do
  // BEGIN, the scope and a lock() taken before any statement): a one-statement write is one
  // round trip, and holds its lock only while the server runs it. An error rolls the transaction
  // back as any statement's does. The body returns after it: a further statement is refused
  // (kInternal), and the commit stands whatever the body returns.
  virtual Result<Rows> query_and_commit(std::string_view sql, Params params) = 0;
  // Waits for, then holds until the transaction ends, an exclusive lock named `key`:
  // transactions that read, decide and then write (a count checked against a limit) take the
  // same key so that they run one at a time. PostgreSQL: a transaction-scoped advisory lock
  // (valid through PgBouncer), taken before the transaction's next statement, in its round trip
  // when it is the first; SQLite: nothing to do, its write transactions already run one at a
  // time.
  virtual Result<void> lock(std::string_view key) = 0;
  // Acts, from here on, for `tenant` and `user` (as TxOptions::tenant and ::user would have),
  // for flows that learn them inside the transaction: login picks the organization, a refresh
  // reads it from the token. Cross-tenant reading cannot be switched on this way. SQLite:
  // nothing to do.
  virtual Result<void> set_scope(const std::optional<std::string>& tenant,
                                 const std::optional<std::string>& user) = 0;
  // As Database::dialect(): for the few statements that differ by engine (the pre-tenant lookups
  // of docs/POSTGRESQL.md).
  virtual std::string_view dialect() const = 0;

  Result<Rows> query(std::string_view sql, std::initializer_list<Value> params = {}) {
    return query(sql, Params(params.begin(), params.size()));
  }
  Result<std::int64_t> execute(std::string_view sql, std::initializer_list<Value> params = {}) {
    return execute(sql, Params(params.begin(), params.size()));
  }
  Result<Rows> query_and_commit(std::string_view sql, std::initializer_list<Value> params = {}) {
    return query_and_commit(sql, Params(params.begin(), params.size()));
  }
  Result<void> execute_deferred(std::string_view sql, std::initializer_list<Value> params = {}) {
    return execute_deferred(sql, Params(params.begin(), params.size()));
  }
  // The first row, or nullopt when there is none.
  Result<std::optional<Row>> query_one(std::string_view sql, Params params);
  Result<std::optional<Row>> query_one(std::string_view sql,
                                       std::initializer_list<Value> params = {}) {
    return query_one(sql, Params(params.begin(), params.size()));
  }
};

// How a transaction is scoped. SQLite ignores the scope (the stores' own `organization_id`
// filters are the only wall there); PostgreSQL enforces it with row-level security, a second wall
// behind those filters (docs/POSTGRESQL.md has the policy set).
struct TxOptions {
  // The organization the transaction acts for: stores pass the Principal's org, or the new
  // organization's id when creating one. Tenant tables then show and accept only its rows (plus,
  // for reading, the global rows: system roles, global memberships). With none, tenant tables
  // show no tenant rows and accept only global ones where a table has them.
  std::optional<std::string> tenant;
  // The signed-in user: also shows that user's own memberships, and the organizations and roles
  // they point to, in every organization (login, /api/me, /api/orgs, switching organization).
  std::optional<std::string> user;
  bool read_only = false;
  // Non-empty only for a read across organizations, naming its purpose: a global super admin's
  // cross-tenant reads, or the system's own sweeps (task recovery, metrics). (A lookup that must
  // find a row before its organization is known uses a narrower path: docs/POSTGRESQL.md.) The
  // audited path, not a bypass: both drivers log every such transaction with its purpose and
  // `user` (set it for a person's read) and refuse it unless read_only. On PostgreSQL only the
  // owner's read policies honour it: the application's role reads across tenants through the
  // SECURITY DEFINER functions of docs/POSTGRESQL.md, so setting it cannot widen what that role
  // sees. Organization secrets stay hidden. Never derived from request input.
  std::string cross_tenant_read;
};

class Database {
 public:
  virtual ~Database() = default;

  virtual std::string_view dialect() const = 0;  // "sqlite" | "postgresql"

  // Runs `body` in one transaction: commits when it returns a value, rolls back when it returns
  // an error or throws (the exception propagates). A transient conflict (busy database,
  // serialization failure) re-runs the body, so it must have no effects outside the transaction.
  template <class F>
  auto transact(const TxOptions& options, F&& body) -> std::invoke_result_t<F&, Tx&> {
    using R = std::invoke_result_t<F&, Tx&>;
    std::optional<R> out;
    auto status = run(options, [&](Tx& tx) -> Result<void> {
      out.emplace(body(tx));
      if (!*out) return fail(out->error());
      return {};
    });
    if (!status) return fail(status.error());
    return std::move(*out);
  }

  // Checks that the database answers (readiness).
  virtual Result<void> ping() = 0;

  // Called first in a migration transaction: keeps two processes from migrating at once.
  virtual Result<void> lock_for_migration(Tx& tx) = 0;

 protected:
  virtual Result<void> run(const TxOptions& options,
                           const std::function<Result<void>(Tx&)>& body) = 0;

  // Drivers call this first in run(): refuses (kInternal) a cross-tenant read that is not
  // read-only, and logs every cross-tenant read with its purpose and user: at info level when a
  // user is named (the audit trail), at debug level for the system's own (recovery, metrics).
  static Result<void> admit(const TxOptions& options);
};

}  // namespace atrium::db

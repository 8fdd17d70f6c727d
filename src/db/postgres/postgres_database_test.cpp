// What the PostgreSQL driver adds to the storage contract: timeouts, broken connections, the
// limits of text. Runs on PostgreSQL direct and through PgBouncer.
#include "db/postgres/postgres_database.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "db/open.hpp"
#include "platform/ids.hpp"
#include "support/backends.hpp"

namespace atrium::db {
namespace {

using atrium::testing::Backend;
using namespace std::chrono_literals;

class PostgresDriver : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { t_ = GetParam().create_migrated(); }

  std::unique_ptr<Database> open_app(postgres::Options options) {
    options.url = t_->url;
    auto db = postgres::open(options);
    if (!db) ADD_FAILURE() << db.error().detail;
    return db ? std::move(*db) : nullptr;
  }

  static Result<std::int64_t> backend_pid(Database& db) {
    return db.transact({.read_only = true}, [](Tx& tx) -> Result<std::int64_t> {
      auto row = tx.query_one("SELECT pg_backend_pid()");
      if (!row) return fail(row.error());
      return (*row)->integer(0);
    });
  }

  std::unique_ptr<atrium::testing::TestDatabase> t_;
};

TEST_P(PostgresDriver, AStatementPastItsTimeoutIsUnavailableAndTheNextOneRuns) {
  auto db = open_app({.pool_size = 1, .statement_timeout = 300ms});
  ASSERT_TRUE(db);
  auto slow = db->transact({}, [](Tx& tx) { return tx.query("SELECT pg_sleep(30)"); });
  ASSERT_FALSE(slow);
  EXPECT_EQ(slow.error().code, Code::kUnavailable);
  EXPECT_EQ(slow.error().detail, "database timeout");
  EXPECT_TRUE(db->ping());
}

// Only PgBouncer queues a client until a server connection is free.
class PgBouncerQueue : public PostgresDriver {};

std::vector<Backend> pgbouncer_backends() {
  std::vector<Backend> out;
  for (auto& b : atrium::testing::rls_backends())
    if (b.name == "pgbouncer") out.push_back(std::move(b));
  return out;
}

TEST_P(PgBouncerQueue, WaitingForAServerConnectionIsBounded) {
  // BEGIN, where PgBouncer queues, travels with the first statement: the first round trip may
  // take the connect timeout plus the statement timeout (plus a margin), and is not retried.
  auto waiting = open_app({.pool_size = 2, .statement_timeout = 500ms, .connect_timeout = 1s});
  ASSERT_TRUE(waiting);
  // The test PgBouncer has one server connection per database and user: hold it.
  std::promise<void> holding, release;
  auto released = release.get_future().share();
  std::thread holder([&] {
    auto r = t_->app->transact({}, [&](Tx& tx) -> Result<void> {
      auto q = tx.query("SELECT 1");
      if (!q) return fail(q.error());
      holding.set_value();
      released.wait();
      return {};
    });
    EXPECT_TRUE(r) << r.error().detail;
  });
  holding.get_future().wait();

  // PgBouncer would queue this BEGIN for query_wait_timeout (60 s in the test configuration).
  const auto start = std::chrono::steady_clock::now();
  auto queued = waiting->transact({}, [](Tx& tx) { return tx.query("SELECT 1"); });
  ASSERT_FALSE(queued);
  EXPECT_EQ(queued.error().code, Code::kUnavailable);
  // Far below the holder's idle-in-transaction timeout (30 s), which would free the connection.
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);

  release.set_value();
  holder.join();
  EXPECT_TRUE(waiting->ping());
}

// PgBouncer hands the test's one server connection to another client only once the transaction
// on it has ended. A read-only transaction commits each statement in its round trip, until it
// takes a lock; from then on its COMMIT, sent without waiting for the answer, must still arrive
// at once.
TEST_P(PgBouncerQueue, AReadOnlyTransactionHoldsItsServerConnectionNoLongerThanItNeeds) {
  auto reader = open_app({.pool_size = 1});
  auto other = open_app({.pool_size = 1, .statement_timeout = 500ms, .connect_timeout = 1s});
  ASSERT_TRUE(reader && other);
  // Would wait in PgBouncer's queue past its deadline if the reader still held the connection.
  auto other_runs = [&] {
    auto r = other->transact({}, [](Tx& tx) { return tx.query("SELECT 1"); });
    EXPECT_TRUE(r) << r.error().detail;
  };
  for (const bool locking : {false, true, false}) {
    auto read = reader->transact({.read_only = true}, [&](Tx& tx) -> Result<std::int64_t> {
      if (locking) {
        if (auto l = tx.lock("read-only"); !l) return fail(l.error());
      }
      auto row = tx.query_one("SELECT 40 + $1", {2});
      if (!row) return fail(row.error());
      if (!locking) other_runs();  // between two statements
      auto again = tx.query_one("SELECT $1::int", {(*row)->integer(0)});
      if (!again) return fail(again.error());
      return (*again)->integer(0);
    });
    ASSERT_TRUE(read) << read.error().detail;
    EXPECT_EQ(*read, 42);
    other_runs();
  }
}

// A write of one statement, with its lock, is one round trip: BEGIN, the scope, the lock, the
// statement and COMMIT travel together, and the server connection is free again at once.
TEST_P(PgBouncerQueue, AOneStatementWriteHoldsItsServerConnectionForOneRoundTrip) {
  auto writer = open_app({.pool_size = 1});
  auto other = open_app({.pool_size = 1, .statement_timeout = 500ms, .connect_timeout = 1s});
  ASSERT_TRUE(writer && other);
  auto r = writer->transact({}, [&](Tx& tx) -> Result<std::int64_t> {
    if (auto l = tx.lock("one round trip"); !l) return fail(l.error());
    auto rows = tx.query_and_commit("SELECT 40 + $1", {2});
    if (!rows) return fail(rows.error());
    // Would wait in PgBouncer's queue past its deadline if the writer still held the connection.
    auto o = other->transact({}, [](Tx& otx) {
      return otx.query_one("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))",
                           {"one round trip"});
    });
    EXPECT_TRUE(o && *o && (**o).boolean(0)) << "the lock outlived the commit";
    return rows->front().integer(0);
  });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(*r, 42);
}

// Direct connections only: through the test PgBouncer's one server connection, the second
// transaction below would wait for the first.
class PostgresDirect : public PostgresDriver {};

std::vector<Backend> direct_backends() {
  std::vector<Backend> out;
  for (auto& b : atrium::testing::rls_backends())
    if (b.name == "postgres") out.push_back(std::move(b));
  return out;
}

// From a lock on, a read-only transaction's statements share one server transaction, which holds
// the lock.
TEST_P(PostgresDirect, AReadOnlyTransactionHoldsItsLockToItsEnd) {
  auto other = open_app({.pool_size = 1});
  ASSERT_TRUE(other);
  auto r = t_->app->transact({.read_only = true}, [&](Tx& tx) -> Result<bool> {
    if (auto first = tx.query("SELECT 1"); !first) return fail(first.error());
    if (auto l = tx.lock("read-only"); !l) return fail(l.error());
    if (auto next = tx.query("SELECT 2"); !next) return fail(next.error());
    return other->transact({}, [](Tx& o) -> Result<bool> {
      auto row =
          o.query_one("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))", {"read-only"});
      if (!row) return fail(row.error());
      return (*row)->boolean(0);
    });
  });
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_FALSE(*r) << "the lock was free while the transaction held it";
}

TEST_P(PostgresDriver, TransactionsFollowingAReadOnlyOneOnItsConnectionSeeTheirOwnResults) {
  auto db = open_app({.pool_size = 1});
  ASSERT_TRUE(db);
  for (int i = 0; i < 5; ++i) {
    auto read = db->transact({.read_only = true}, [&](Tx& tx) -> Result<std::int64_t> {
      auto row = tx.query_one("SELECT $1::int * 2", {i});
      if (!row) return fail(row.error());
      return (*row)->integer(0);
    });
    ASSERT_TRUE(read) << read.error().detail;
    EXPECT_EQ(*read, 2 * i);
    auto write = db->transact({}, [&](Tx& tx) -> Result<std::int64_t> {
      auto row = tx.query_one("SELECT $1::int + 1", {i});
      if (!row) return fail(row.error());
      return (*row)->integer(0);
    });
    ASSERT_TRUE(write) << write.error().detail;
    EXPECT_EQ(*write, i + 1);
  }
  auto failing = db->transact({.read_only = true}, [](Tx& tx) { return tx.query("SELECT nope"); });
  ASSERT_FALSE(failing);
  EXPECT_EQ(failing.error().code, Code::kInternal);
  EXPECT_TRUE(db->ping());
}

// A statement that failed aborted the transaction: its COMMIT answers ROLLBACK, an error even
// for a read-only transaction whose body carried on.
TEST_P(PostgresDriver, ABodyThatIgnoresAFailedStatementDoesNotCommit) {
  for (const bool read_only : {true, false}) {
    auto r = t_->app->transact({.read_only = read_only}, [](Tx& tx) -> Result<void> {
      (void)tx.query("SELECT nope");
      return {};
    });
    ASSERT_FALSE(r) << (read_only ? "read-only" : "writing");
    EXPECT_EQ(r.error().code, Code::kInternal);
  }
}

TEST_P(PostgresDriver, AKilledServerConnectionIsReplacedTransparently) {
  auto db = open_app({.pool_size = 1});
  ASSERT_TRUE(db);
  auto before = backend_pid(*db);
  ASSERT_TRUE(before) << before.error().detail;
  // A session of the same role ends the pooled connection's server process, as a server restart
  // or an administrator would. (Through PgBouncer, with one server connection, it is the
  // killer's own: its transaction may fail, which is not what is tested here.)
  (void)t_->app->transact(
      {}, [&](Tx& tx) { return tx.query("SELECT pg_terminate_backend($1)", {*before}); });

  auto after = backend_pid(*db);
  ASSERT_TRUE(after) << after.error().detail;
  EXPECT_NE(*after, *before);
}

// Once a database has set_scope() (migrations/postgres/0011), every transaction's scope is set
// by it; a database opened without it (not migrated yet) sets the same scope as SQL.
TEST_P(PostgresDriver, TheScopeIsSetBySetScopeWhereTheDatabaseHasIt) {
  const std::string org = new_id(), user = new_id();
  const std::string settings =
      "SELECT current_setting('app.scope_by', true), current_setting('app.org_id'),"
      " current_setting('app.user_id'), current_setting('app.cross_tenant_read'),"
      " current_setting('statement_timeout'),"
      " current_setting('idle_in_transaction_session_timeout'), current_setting('DateStyle'),"
      " current_setting('TimeZone')";
  // What a transaction sees: the mark below (empty without it), then its scope.
  auto scope_of = [&](Database& db) -> std::vector<std::string> {
    auto row = db.transact({.tenant = org, .user = user, .read_only = true},
                           [&](Tx& tx) { return tx.query_one(settings); });
    if (!row || !*row) {
      ADD_FAILURE() << (row ? "no row" : row.error().detail);
      return {};
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < 8; ++i) out.emplace_back((**row).view(i));
    return out;
  };
  const std::vector<std::string> expected_scope = {org, user, "", "2s", "6s", "ISO, MDY", "UTC"};

  // set_scope() as migrated, behind one that marks the transaction first.
  auto marked = t_->db->transact({}, [](Tx& tx) -> Result<void> {
    auto r = tx.execute_script(
        "ALTER PROCEDURE set_scope(text, text, text, text, text) RENAME TO set_scope_migrated;"
        "CREATE PROCEDURE set_scope(a text, b text, c text, d text, e text)"
        " LANGUAGE plpgsql AS $$ BEGIN"
        " PERFORM set_config('app.scope_by', 'set_scope', true);"
        " CALL set_scope_migrated(a, b, c, d, e); END $$;");
    if (!r) return fail(r.error());
    return {};
  });
  ASSERT_TRUE(marked) << marked.error().detail;
  auto db = open_app({.pool_size = 1, .statement_timeout = 2s});
  ASSERT_TRUE(db);
  auto scope = scope_of(*db);
  ASSERT_EQ(scope.size(), 8u);
  EXPECT_EQ(scope[0], "set_scope");
  EXPECT_EQ(std::vector<std::string>(scope.begin() + 1, scope.end()), expected_scope);

  auto empty = GetParam().create();
  auto unmigrated = postgres::open({.url = empty->url, .pool_size = 1, .statement_timeout = 2s});
  ASSERT_TRUE(unmigrated) << unmigrated.error().detail;
  scope = scope_of(**unmigrated);
  ASSERT_EQ(scope.size(), 8u);
  EXPECT_EQ(scope[0], "");
  EXPECT_EQ(std::vector<std::string>(scope.begin() + 1, scope.end()), expected_scope);
}

TEST_P(PostgresDriver, TextWithNulIsInvalidInput) {
  auto r =
      t_->app->transact({}, [](Tx& tx) { return tx.query("SELECT $1", {std::string("a\0b", 3)}); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidRequest);
}

TEST_P(PostgresDriver, UrlsAreCheckedAtOpen) {
  auto malformed = postgres::open({.url = "postgresql://[::1"});
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, Code::kInvalidRequest);
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  auto unreachable = db::open("postgresql://atrium@127.0.0.1:1/atrium");
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().code, Code::kUnavailable);
  EXPECT_EQ(unreachable.error().detail.find("127.0.0.1"), std::string::npos);
}

TEST_P(PostgresDriver, TwoProcessesNeverMigrateAtOnce) {
  // Two pools stand for two processes: the second waits on the advisory lock the first holds.
  auto other = open_app({.pool_size = 1});
  ASSERT_TRUE(other);
  std::promise<void> locked, release;
  auto released = release.get_future().share();
  std::thread first([&] {
    auto r = t_->db->transact({}, [&](Tx& tx) -> Result<void> {
      if (auto l = t_->db->lock_for_migration(tx); !l) return l;
      locked.set_value();
      released.wait();
      return {};
    });
    EXPECT_TRUE(r) << r.error().detail;
  });
  locked.get_future().wait();
  auto blocked = other->transact({}, [&](Tx& tx) -> Result<bool> {
    auto r = tx.query_one("SELECT pg_try_advisory_xact_lock($1)", {std::int64_t{0x61747269756d}});
    if (!r) return fail(r.error());
    return (*r)->boolean(0);
  });
  ASSERT_TRUE(blocked) << blocked.error().detail;
  EXPECT_FALSE(*blocked) << "the migration lock was free while held";
  release.set_value();
  first.join();
  auto free = other->transact({}, [&](Tx& tx) -> Result<bool> {
    auto r = tx.query_one("SELECT pg_try_advisory_xact_lock($1)", {std::int64_t{0x61747269756d}});
    if (!r) return fail(r.error());
    return (*r)->boolean(0);
  });
  ASSERT_TRUE(free) << free.error().detail;
  EXPECT_TRUE(*free) << "the migration lock outlived its transaction";
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PostgresDirect);
INSTANTIATE_TEST_SUITE_P(Backends, PostgresDirect, ::testing::ValuesIn(direct_backends()),
                         atrium::testing::BackendName());

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PgBouncerQueue);
INSTANTIATE_TEST_SUITE_P(Backends, PgBouncerQueue, ::testing::ValuesIn(pgbouncer_backends()),
                         atrium::testing::BackendName());

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PostgresDriver);
INSTANTIATE_TEST_SUITE_P(Backends, PostgresDriver,
                         ::testing::ValuesIn(atrium::testing::rls_backends()),
                         atrium::testing::BackendName());

}  // namespace
}  // namespace atrium::db

/*
 * logenv.cc - LevelDB logs written over zero-filled, synced blocks
 * (logenv.h).
 *
 * LevelDB's C API cannot build an Env, so this one file is C++: a
 * leveldb::EnvWrapper around the default Env that hands out its own
 * WritableFile for logs.  Each log has a filler thread that keeps
 * LOGENV_AHEAD bytes of zeros written and synced past the log's writes, so
 * the writer's syncs overwrite blocks that exist and are never on the
 * filler's path: the writer writes below `filled`, the filler at and above
 * it.
 */
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <leveldb/env.h>

#include "lib/fdio.h"
#include "store/logcut.h"
#include "store/logenv.h"

/* The C API's handle, as LevelDB's c.cc lays it out. */
struct leveldb_env_t {
	leveldb::Env	*rep;
	bool		 is_default;
};

namespace {

const uint64_t kZeroChunk = 1u << 20;	/* one pwrite of the filler */
const uint64_t kAhead = LOGENV_AHEAD;

/*
 * Zeros for the filler's writes.  Not const, so it lives in .bss, not as a
 * megabyte of the binary; it is never written.
 */
char kZeros[kZeroChunk];

leveldb::Status
io_error(const std::string &name, const char *what, int err)
{
	return leveldb::Status::IOError(name, std::string(what) + ": " +
	    strerror(err));
}

/*
 * What a log's writer and its filler share.  The filler owns it last: a
 * closed log's filler finishes its chunk, cuts the file and closes it on
 * its own, so LevelDB's log switch (made under its mutex, which reads
 * take too) never waits for a chunk's sync.
 */
struct Fill {
	Fill(int f, const std::string &n) : fd(f), name(n) {}

	const int	 fd;
	const std::string name;
	std::mutex	 mu;		/* guards the rest */
	std::condition_variable cv;
	/*
	 * Written (zeros or data) up to.  The first chunk is the writer's to
	 * append into: the first writes to a new log need not wait for a
	 * chunk's sync, and pay a metadata commit each as LevelDB's default.
	 */
	uint64_t	 filled = kZeroChunk;
	uint64_t	 want = kAhead;	/* what the filler works towards */
	bool		 busy = false;	/* the filler writes from filled */
	bool		 failed = false;
	bool		 closing = false;
	uint64_t	 cut_at = 0;	/* with closing: the written length */
};

/* Closed logs whose filler has not yet cut and closed them. */
struct Closing {
	std::mutex	 mu;
	std::condition_variable cv;
	unsigned	 n = 0;
};

/* Never destroyed: a filler may end after static destructors ran. */
Closing &
closing_logs()
{
	static Closing *c = new Closing;

	return *c;
}

void fill_main(std::shared_ptr<Fill> f);

class PreallocLog : public leveldb::WritableFile {
public:
	PreallocLog(int fd, const std::string &name)
	    : f_(std::make_shared<Fill>(fd, name)) {
		std::thread(fill_main, f_).detach();
	}
	~PreallocLog() override { Close(); }

	leveldb::Status Append(const leveldb::Slice &data) override {
		buf_.append(data.data(), data.size());
		return leveldb::Status::OK();
	}
	leveldb::Status Flush() override;
	leveldb::Status Sync() override;
	leveldb::Status Close() override;

private:
	void reserve(uint64_t upto);

	std::shared_ptr<Fill> f_;
	std::string	 buf_;		/* appended, not yet written */
	uint64_t	 off_ = 0;	/* bytes written to the file */
	bool		 closed_ = false;
};

/*
 * Make [off_, upto) writable and ask for zeros kAhead past it.  Below
 * filled the write overwrites zeros (or appends into the first chunk);
 * past it (a write bigger than the zeros ahead, or made while the filler
 * is behind or failed) the writer waits for the filler to be out of the
 * way and appends the rest itself, as LevelDB's default would: that sync
 * then commits the new size once.
 */
void
PreallocLog::reserve(uint64_t upto)
{
	Fill &f = *f_;
	std::unique_lock<std::mutex> lk(f.mu);

	if (upto > f.filled) {
		f.cv.wait(lk, [&] { return !f.busy; });
		if (upto > f.filled)
			f.filled = upto;
	}
	if (!f.failed && upto + kAhead / 2 > f.want) {
		f.want = (upto + kAhead + kZeroChunk - 1) / kZeroChunk *
		    kZeroChunk;
		f.cv.notify_all();
	}
}

leveldb::Status
PreallocLog::Flush()
{
	leveldb::Status s;

	if (buf_.empty())
		return s;
	if (closed_)
		return io_error(f_->name, "write after close", EBADF);
	reserve(off_ + buf_.size());
	if (fd_pwrite_all(f_->fd, buf_.data(), buf_.size(), off_) < 0)
		return io_error(f_->name, "write", errno);
	off_ += buf_.size();
	buf_.clear();
	return s;
}

leveldb::Status
PreallocLog::Sync()
{
	leveldb::Status s = Flush();

	if (s.ok() && fdatasync(f_->fd) < 0)
		s = io_error(f_->name, "fdatasync", errno);
	return s;
}

/*
 * Write what is buffered and hand the file to its filler, which cuts the
 * zeros past off_ and closes it once its chunk under way is done.  An
 * error there is not LevelDB's to know: every record was synced by then,
 * and zeros the cut leaves are what logcut_dir removes.
 */
leveldb::Status
PreallocLog::Close()
{
	leveldb::Status s;

	if (closed_)
		return s;
	s = Flush();
	closed_ = true;
	{
		Closing &c = closing_logs();
		std::lock_guard<std::mutex> lk(c.mu);
		c.n++;
	}
	{
		std::lock_guard<std::mutex> lk(f_->mu);
		f_->closing = true;
		f_->cut_at = off_;
	}
	f_->cv.notify_all();
	return s;
}

/*
 * The filler: zeros from filled up to want, a chunk at a time, each synced
 * before the writer may use it (a writer waits at most one chunk).  On an
 * error it writes no more and the writer appends (ENOSPC, say, then
 * reaches the writer's own write, where LevelDB sees it).  Once the log is
 * closed, it cuts and closes the file.
 */
void
fill_main(std::shared_ptr<Fill> f)
{
	std::unique_lock<std::mutex> lk(f->mu);

	pthread_setname_np(pthread_self(), "log-filler");
	for (;;) {
		f->cv.wait(lk, [&] {
			return f->closing || (!f->failed && f->want > f->filled);
		});
		if (f->closing)
			break;
		uint64_t from = f->filled;
		f->busy = true;
		lk.unlock();
		bool ok = fd_pwrite_all(f->fd, kZeros, kZeroChunk, from) == 0 &&
		    fdatasync(f->fd) == 0;
		lk.lock();
		f->busy = false;
		if (ok)
			f->filled = from + kZeroChunk;
		else
			f->failed = true;
		f->cv.notify_all();
	}
	lk.unlock();
	/* The zeros past the end go: a closed log looks like any other. */
	(void)ftruncate(f->fd, (off_t)f->cut_at);
	close(f->fd);
	f.reset();

	Closing &c = closing_logs();
	std::lock_guard<std::mutex> clk(c.mu);
	if (--c.n == 0)
		c.cv.notify_all();
}

/* A path LevelDB gives a log: ".../000123.log". */
bool
is_log_path(const std::string &path)
{
	size_t slash = path.rfind('/');

	return logcut_is_log_name(path.c_str() +
	    (slash == std::string::npos ? 0 : slash + 1));
}

/* A job for LevelDB's background thread, and the name that thread shows. */
struct BackgroundJob {
	void	(*fn)(void *);
	void	*arg;
};

void
run_background_job(void *p)
{
	BackgroundJob job = *static_cast<BackgroundJob *>(p);

	delete static_cast<BackgroundJob *>(p);
	pthread_setname_np(pthread_self(), "leveldb-compact");
	job.fn(job.arg);
}

class LogEnv : public leveldb::EnvWrapper {
public:
	LogEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

	/*
	 * LevelDB runs its memtable flushes and compactions on one thread of
	 * the default Env's, started unnamed: name it, so that top -H and
	 * perf tell compactions from the store's writer.
	 */
	void Schedule(void (*fn)(void *), void *arg) override {
		target()->Schedule(run_background_job,
		    new BackgroundJob{fn, arg});
	}

	leveldb::Status NewWritableFile(const std::string &name,
	    leveldb::WritableFile **out) override {
		int fd;

		if (!is_log_path(name))
			return target()->NewWritableFile(name, out);
		*out = nullptr;
		fd = open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0644);
		if (fd < 0)
			return io_error(name, "open", errno);
		try {
			*out = new PreallocLog(fd, name);
		} catch (const std::exception &e) {
			close(fd);
			return leveldb::Status::IOError(name,
			    std::string("filler thread: ") + e.what());
		}
		return leveldb::Status::OK();
	}
};

} /* namespace */

extern "C" void
logenv_settle(void)
{
	Closing &c = closing_logs();
	std::unique_lock<std::mutex> lk(c.mu);

	c.cv.wait(lk, [&] { return c.n == 0; });
}

extern "C" leveldb_env_t *
logenv_get(void)
{
	static LogEnv env;
	static leveldb_env_t handle = { &env, true };

	return &handle;
}

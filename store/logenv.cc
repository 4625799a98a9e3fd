/*
 * logenv.cc - LevelDB logs written over zero-filled, synced blocks
 * (logenv.h).
 *
 * LevelDB's C API cannot build an Env, so this one file is C++: a
 * leveldb::EnvWrapper around the default Env that hands out its own
 * WritableFile for logs.  Each log has a filler thread that keeps
 * LOGENV_AHEAD bytes of zeros written and synced past the log's writes, so
 * the writer's syncs overwrite blocks that exist and are never on the
 * filler's path: the writer writes below `filled_`, the filler at and above
 * it.
 */
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <leveldb/env.h>

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

/* Write all of [p, p+n) at off. */
int
pwrite_all(int fd, const char *p, uint64_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (uint64_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

class PreallocLog : public leveldb::WritableFile {
public:
	PreallocLog(int fd, const std::string &name)
	    : fd_(fd), name_(name), filler_(&PreallocLog::fill_main, this) {}
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
	void stop_filler();
	void fill_main();

	int		 fd_;
	std::string	 name_;
	std::string	 buf_;		/* appended, not yet written */
	uint64_t	 off_ = 0;	/* bytes written to the file */

	std::mutex	 mu_;		/* guards the five below */
	std::condition_variable cv_;
	uint64_t	 filled_ = 0;	/* written (zeros or data) up to */
	uint64_t	 want_ = kAhead;/* what the filler works towards */
	bool		 busy_ = false;	/* the filler writes from filled_ */
	bool		 closing_ = false;
	bool		 filler_failed_ = false;
	std::thread	 filler_;	/* last: starts once the rest is set */
};

/*
 * Make [off_, upto) writable and ask for zeros kAhead past it.  Below
 * filled_ the write overwrites zeros; past it (a write bigger than the
 * zeros ahead, or a filler that fell behind or failed) the writer waits
 * for the filler to be out of the way and appends the rest itself, as
 * LevelDB's default would: that sync then commits the new size once.
 */
void
PreallocLog::reserve(uint64_t upto)
{
	std::unique_lock<std::mutex> lk(mu_);

	if (upto > filled_) {
		cv_.wait(lk, [&] { return !busy_; });
		if (upto > filled_)
			filled_ = upto;
	}
	if (!filler_failed_ && upto + kAhead / 2 > want_) {
		want_ = (upto + kAhead + kZeroChunk - 1) / kZeroChunk *
		    kZeroChunk;
		cv_.notify_all();
	}
}

leveldb::Status
PreallocLog::Flush()
{
	leveldb::Status s;

	if (buf_.empty())
		return s;
	if (fd_ < 0)
		return io_error(name_, "write after close", EBADF);
	reserve(off_ + buf_.size());
	if (pwrite_all(fd_, buf_.data(), buf_.size(), off_) < 0)
		return io_error(name_, "write", errno);
	off_ += buf_.size();
	buf_.clear();
	return s;
}

leveldb::Status
PreallocLog::Sync()
{
	leveldb::Status s = Flush();

	if (s.ok() && fdatasync(fd_) < 0)
		s = io_error(name_, "fdatasync", errno);
	return s;
}

void
PreallocLog::stop_filler()
{
	{
		std::lock_guard<std::mutex> lk(mu_);
		closing_ = true;
	}
	cv_.notify_all();
	if (filler_.joinable())
		filler_.join();
}

leveldb::Status
PreallocLog::Close()
{
	leveldb::Status s;

	if (fd_ < 0) {
		stop_filler();
		return s;
	}
	s = Flush();
	stop_filler();
	/* The zeros past the end go: a closed log looks like any other. */
	if (ftruncate(fd_, (off_t)off_) < 0 && s.ok())
		s = io_error(name_, "ftruncate", errno);
	if (close(fd_) < 0 && s.ok())
		s = io_error(name_, "close", errno);
	fd_ = -1;
	return s;
}

/*
 * The filler: zeros from filled_ up to want_, a chunk at a time, each
 * synced before the writer may use it (a writer waits at most one chunk).
 * On an error it stops for good and the writer appends (ENOSPC, say, then
 * reaches the writer's own write, where LevelDB sees it).
 */
void
PreallocLog::fill_main()
{
	std::unique_lock<std::mutex> lk(mu_);

	for (;;) {
		cv_.wait(lk, [&] { return closing_ || want_ > filled_; });
		if (closing_)
			return;
		uint64_t from = filled_;
		busy_ = true;
		lk.unlock();
		bool ok = pwrite_all(fd_, kZeros, kZeroChunk, from) == 0 &&
		    fdatasync(fd_) == 0;
		lk.lock();
		busy_ = false;
		if (ok)
			filled_ = from + kZeroChunk;
		else
			filler_failed_ = true;
		cv_.notify_all();
		if (!ok)
			return;
	}
}

/* A path LevelDB gives a log: ".../000123.log". */
bool
is_log_path(const std::string &path)
{
	size_t slash = path.rfind('/');

	return logcut_is_log_name(path.c_str() +
	    (slash == std::string::npos ? 0 : slash + 1));
}

class LogEnv : public leveldb::EnvWrapper {
public:
	LogEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

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

extern "C" leveldb_env_t *
logenv_get(void)
{
	static LogEnv env;
	static leveldb_env_t handle = { &env, true };

	return &handle;
}

// crc32c.cc - see crc32c.h.
#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>

#include <isa-l/crc.h>

#include "config.h"
#include "store/crc32c.h"

namespace {

// Set by the first call from LevelDB: proof that the linker took ours.
std::atomic<int> called_by_leveldb{0};

// ISA-L's crc32_iscsi carries the CRC register as is (start 0xffffffff,
// no final inversion) and takes an int length; LevelDB's Extend takes and
// returns finished CRCs.
uint32_t
extend(uint32_t crc, const unsigned char *p, size_t n)
{
	uint32_t reg = ~crc;

	while (n > 0) {
		int len = n > (size_t)INT_MAX ? INT_MAX : (int)n;

		reg = crc32_iscsi(const_cast<unsigned char *>(p), len, reg);
		p += len;
		n -= (size_t)len;
	}
	return ~reg;
}

}  // namespace

#ifdef QFS_LEVELDB_STATIC
// LevelDB's util/crc32c.h declares this; with the static archive, this
// definition is the one every LevelDB call binds to.
namespace leveldb {
namespace crc32c {
uint32_t Extend(uint32_t init_crc, const char *data, size_t n);

uint32_t
Extend(uint32_t init_crc, const char *data, size_t n)
{
	if (!called_by_leveldb.load(std::memory_order_relaxed))
		called_by_leveldb.store(1, std::memory_order_relaxed);
	return extend(init_crc, reinterpret_cast<const unsigned char *>(data),
	    n);
}
}  // namespace crc32c
}  // namespace leveldb
#endif

extern "C" uint32_t
crc32c_extend(uint32_t crc, const void *data, size_t n)
{
	return extend(crc, static_cast<const unsigned char *>(data), n);
}

extern "C" int
crc32c_check(void)
{
	static const char v[] = "123456789";

	return crc32c_extend(0, v, 9) == 0xe3069283u ? 0 : -1;
}

extern "C" int
crc32c_in_leveldb(void)
{
	return called_by_leveldb.load(std::memory_order_relaxed);
}

## valgrind memcheck over the unit tests: `make check-valgrind`, on a tree
## configured without --enable-sanitizers (ASan's shadow memory and
## valgrind cannot share a process).  Every cmocka program in tests/unit
## (the fuzz corpus replays too) runs under memcheck through the same TAP
## driver as `make check`; an invalid read or write, a use of
## uninitialised memory, or a definite or indirect leak makes valgrind
## exit 99, which fails that test.  Its report is in the test's .log.
VALGRIND = valgrind
VALGRIND_FLAGS = --tool=memcheck --quiet --error-exitcode=99 \
	--leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect \
	--suppressions=$(top_srcdir)/tests/valgrind.supp
VALGRIND_TESTS = $(filter tests/unit/%,$(TESTS))
EXTRA_DIST += tests/valgrind.supp

.PHONY: check-valgrind
check-valgrind:
	@case "$(QFS_CFLAGS)" in *-fsanitize=*) \
	  echo "check-valgrind: this tree is built with sanitizers;" \
	    "configure another one without --enable-sanitizers" >&2; \
	  exit 1;; \
	esac
	@rm -f $(VALGRIND_TESTS:=.log) $(VALGRIND_TESTS:=.trs)
	@$(MAKE) $(AM_MAKEFLAGS) check TESTS="$(VALGRIND_TESTS)" \
	  LOG_COMPILER="$(VALGRIND) $(VALGRIND_FLAGS)"

-- verify/no_jit.sql: no JIT compilation for the rest of this (read-only) transaction.
-- The posture statement is one large query whose estimated cost grows with the number of
-- tenant tables; past jit_inline_above_cost / jit_optimize_above_cost, LLVM spends seconds
-- compiling it (measured: 4.5 s at 1,000 tenants x 10 tables, most of it compilation),
-- more than the query runs. SET LOCAL: gone at the batch's ROLLBACK.
SET LOCAL jit = off

/**
 * The guest: named RAM blocks on {@link java.lang.foreign.MemorySegment}s with a per-page
 * {@link io.livemig.guest.DirtyLog}, the run state with its vCPU quiescence gate, and synthetic
 * vCPU workloads that dirty memory at a set rate.
 *
 * <p>Threads meet here in two places, each documented in its class: guest writers and the
 * migration thread meet in {@link io.livemig.guest.DirtyLog} (data first, then the bit; harvest
 * clears the bit before the copy, so every write is copied or re-marked), and vCPUs and the
 * controller meet in {@link io.livemig.guest.RunStateGate} (after a stop returns, no guest write
 * is in progress). Both are checked by jcstress tests in {@code livemig-stress}.
 */
package io.livemig.guest;

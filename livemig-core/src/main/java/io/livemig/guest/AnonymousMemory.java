package io.livemig.guest;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Anonymous guest RAM as QEMU has it: {@code mmap(MAP_PRIVATE | MAP_ANONYMOUS)}, so a page costs
 * memory only once the guest (or an incoming migration) touches it, and reading an untouched
 * page reads the kernel's one shared zero page.
 *
 * <p>Why not {@link Arena#allocate}: it clears what it allocates with a memset, which touches
 * every page. A 1 GiB guest without {@code prealloc} then had 1 GiB resident from the start, and
 * paid for a 1 GiB memset at every start (and every warm-up destination for its blocks).
 *
 * <p>Where mmap cannot be called (no such symbol: not a POSIX system), {@link Arena#allocate}
 * is used. The mapping is released with {@code munmap} when the arena closes.
 */
@SuppressWarnings("restricted") // mmap and munmap through the FFM linker; the process runs with --enable-native-access
final class AnonymousMemory {

    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final long MAP_FAILED = -1L;

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MMAP = libc.find("mmap").map(s -> linker.downcallHandle(s,
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                Linker.Option.captureCallState("errno"))).orElse(null);
        MUNMAP = libc.find("munmap").map(s -> linker.downcallHandle(s,
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG))).orElse(null);
    }

    private AnonymousMemory() {
    }

    /**
     * {@code size} bytes (a multiple of the page size) of zeroed, page-aligned memory, unmapped
     * when {@code arena} closes.
     *
     * @throws OutOfMemoryError when the kernel refuses the mapping (the errno is in the message)
     */
    static MemorySegment map(long size, Arena arena) {
        if (MMAP == null || MUNMAP == null) {
            return arena.allocate(size, PageSize.TARGET_PAGE_SIZE);
        }
        long addr;
        int errno;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = call.allocate(CALL_STATE);
            addr = (long) MMAP.invokeExact(state, 0L, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
            errno = (int) ERRNO.get(state, 0L);
        } catch (Throwable t) {
            throw new IllegalStateException("mmap of " + size + " bytes of guest RAM", t);
        }
        if (addr == MAP_FAILED || addr == 0) {
            throw new OutOfMemoryError("cannot map " + size + " bytes of anonymous guest RAM (mmap errno " + errno + ")");
        }
        long mapped = addr;
        return MemorySegment.ofAddress(addr).reinterpret(size, arena, unused -> unmap(mapped, size));
    }

    private static void unmap(long addr, long size) {
        try {
            int unused = (int) MUNMAP.invokeExact(addr, size);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap of guest RAM", t);
        }
    }
}

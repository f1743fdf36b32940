package io.livemig.devices.block;

import io.livemig.guest.PageSize;
import io.livemig.guest.RamBlock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A {@code -drive file=PATH,format=raw,if=none,id=ID} image, mapped shared so guest writes and
 * incoming block migration reach the file. The mapping is a {@link RamBlock} named after the
 * drive id with its own 4 KiB dirty log; it is <em>not</em> guest RAM (the {@code ram} section
 * never sends it), but workloads may target it by the drive id.
 *
 * <p>Rules, checked when the guest is built: the file must exist (QEMU opens it, it does not
 * create it) and be a regular file; its size is the device size and must be a positive multiple
 * of 4096. QEMU needs only whole 512-byte sectors; livemig is stricter because the image is
 * mapped and its writes tracked in 4 KiB pages, and mapping a shorter tail would grow the file.
 * Sizes that are not a multiple of the 1 MiB migration chunk are fine.
 */
public final class DriveImage implements AutoCloseable {

    /** The granularity a drive size must have. */
    public static final int SIZE_ALIGNMENT = PageSize.TARGET_PAGE_SIZE;

    private final String id;
    private final Path file;
    private final RamBlock block;

    private DriveImage(String id, Path file, RamBlock block) {
        this.id = id;
        this.file = file;
        this.block = block;
    }

    /**
     * Opens and maps the image of drive {@code id}.
     *
     * @throws IllegalArgumentException naming the drive and the file when a rule is broken
     * @throws IOException              when the file cannot be mapped
     */
    public static DriveImage open(String id, Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("-drive id=" + id + ": Could not open '" + file
                    + "': No such file or directory");
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("-drive id=" + id + ": '" + file + "' is not a regular file");
        }
        long size = Files.size(file);
        if (size <= 0 || size % SIZE_ALIGNMENT != 0) {
            throw new IllegalArgumentException("-drive id=" + id + ": size of '" + file
                    + "' must be a positive multiple of " + SIZE_ALIGNMENT + " bytes, got " + size);
        }
        return new DriveImage(id, file, RamBlock.mappedFile(id, size, file, true, false));
    }

    /** The drive id: the device name in DEVICE_BLOCK records. */
    public String id() {
        return id;
    }

    public Path file() {
        return file;
    }

    /** Device size in bytes. */
    public long size() {
        return block.size();
    }

    /** The mapped image with its dirty log; guest writes go through it. */
    public RamBlock block() {
        return block;
    }

    @Override
    public void close() {
        block.close();
    }

    @Override
    public String toString() {
        return "drive " + id + " (" + file + ", " + block.size() + " bytes)";
    }
}

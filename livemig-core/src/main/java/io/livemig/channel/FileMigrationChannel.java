package io.livemig.channel;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code file:PATH}, QEMU's migration/file.c without mapped-ram: the source writes the stream
 * into a fresh file, the destination reads it back from the start. One direction only; the other
 * is a {@link NoReturnPath}. The {@link FileChannel} is used as is; closing it from another thread
 * makes a blocked read or write throw {@link java.nio.channels.AsynchronousCloseException}.
 */
final class FileMigrationChannel implements MigrationChannel {

    private static final NoReturnPath NO_RETURN_PATH = new NoReturnPath("file");

    private final FileChannel file;
    private final boolean writing;
    private final String description;

    private FileMigrationChannel(FileChannel file, boolean writing, String description) {
        this.file = file;
        this.writing = writing;
        this.description = description;
    }

    /** Source side: create or truncate, then write from offset 0. */
    static FileMigrationChannel create(MigrationUri.File uri) throws IOException {
        Path path = uri.path();
        FileChannel file = FileChannel.open(path,
                StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        return new FileMigrationChannel(file, true, uri.toString());
    }

    /** Destination side: read from offset 0. */
    static FileMigrationChannel open(MigrationUri.File uri) throws IOException {
        return new FileMigrationChannel(FileChannel.open(uri.path(), StandardOpenOption.READ), false, uri.toString());
    }

    @Override
    public ReadableByteChannel in() {
        return writing ? NO_RETURN_PATH : file;
    }

    @Override
    public WritableByteChannel out() {
        return writing ? file : NO_RETURN_PATH;
    }

    @Override
    public boolean supportsReturnPath() {
        return false;
    }

    @Override
    public void shutdownOutput() throws IOException {
        if (writing) {
            file.close();
        }
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() throws IOException {
        file.close();
    }

    @Override
    public String toString() {
        return "FileMigrationChannel[" + description + (writing ? ", writing]" : ", reading]");
    }
}

package io.livemig.savevm;

import io.livemig.stream.CommandDescriptor;
import io.livemig.stream.ConfigurationSection;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.ReturnPathDescriptor;
import io.livemig.stream.SectionFooterDescriptor;
import io.livemig.stream.SectionHeaderDescriptor;
import io.livemig.stream.SectionType;
import io.livemig.stream.StreamException;
import io.livemig.stream.StreamHeaderDescriptor;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The destination's stream parser, QEMU's {@code qemu_loadvm_state()}: header, configuration,
 * then sections and commands until EOF, then the vmdesc.
 *
 * <p>The stream is untrusted. A START/FULL section is resolved by (idstr, instance id) against
 * the local registry and its version checked; PART/END by the section id a START announced in
 * this stream. Every section's footer is checked, so a handler that mis-parses its payload is
 * caught at its own section. Errors name the section the way QEMU's do. Nothing here changes the
 * guest's run state: the caller starts the guest only after {@link #load} returned normally.
 *
 * <p>Return path: opened only by OPEN_RETURN_PATH and only on a channel that has one; PING is
 * answered with PONG at once.
 */
public final class SavevmLoader implements LoadContext {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SavevmLoader.class);

    /** Longest vmdesc accepted; QEMU's analyze script reads at most the last 10 MB. */
    public static final int MAX_VMDESC = 16 << 20;

    private final HandlerRegistry registry;
    private final MigrationCapabilities caps;
    private final String machine;
    private final WritableByteChannel returnChannel;
    private final Optional<UUID> uuid;
    private final Map<Integer, Loaded> sections = new HashMap<>();
    private boolean returnPathOpen;
    /** devices whose initial data must load before SWITCHOVER_ACK (QEMU's switchover_ack_pending_num) */
    private int switchoverAckPending;
    private boolean switchoverAckSent;
    /** what is being read, for error messages */
    private String where = "stream header";
    /** the last section loaded completely, for errors between sections */
    private String lastSection;

    private record Loaded(SaveStateEntry entry, int versionId) {
    }

    /**
     * @param returnChannel the channel back to the source, or null when the transport has none
     */
    public SavevmLoader(HandlerRegistry registry, MigrationCapabilities caps, String machine,
                        WritableByteChannel returnChannel) {
        this(registry, caps, machine, Optional.empty(), returnChannel);
    }

    /**
     * @param uuid          this guest's {@code -uuid}, checked against the configuration's uuid
     *                      subsection when the source sent one (QEMU's {@code vmstate_uuid_post_load})
     * @param returnChannel the channel back to the source, or null when the transport has none
     */
    public SavevmLoader(HandlerRegistry registry, MigrationCapabilities caps, String machine, Optional<UUID> uuid,
                        WritableByteChannel returnChannel) {
        this.registry = registry;
        this.caps = caps;
        this.machine = machine;
        this.uuid = uuid;
        this.returnChannel = returnChannel;
    }

    public boolean returnPathOpen() {
        return returnPathOpen;
    }

    /**
     * Parses the whole stream into the registered handlers. Any failure is reported with where in
     * the stream it happened: the record being read and, inside a section, the device's idstr,
     * instance and section id, as QEMU's "error while loading state for instance … of device …".
     */
    public ConfigurationSection.Configuration load(MigrationInput in) throws IOException {
        try {
            return loadRecords(in);
        } catch (IOException e) {
            throw new StreamException(where + ": " + (e.getMessage() != null ? e.getMessage() : e.toString()), e);
        }
    }

    private ConfigurationSection.Configuration loadRecords(MigrationInput in) throws IOException {
        where = "stream header";
        StreamHeaderDescriptor.read(in);
        where = "configuration section";
        ConfigurationSection.Configuration config = ConfigurationSection.read(in);
        if (!config.machine().equals(machine)) {
            throw new StreamException("Machine type received is '" + config.machine() + "' and local is '" + machine + "'");
        }
        if (config.targetPageBits() != 0 && config.targetPageBits() != 12) {
            throw new StreamException("Received TARGET_PAGE_BITS is " + config.targetPageBits() + " but local is 12");
        }
        checkUuid(config.uuid());
        List<SaveStateEntry> entries = registry.entries();
        for (SaveStateEntry e : entries) {
            if (e.handler().isActive()) {
                where = "load setup of " + e;
                try {
                    e.handler().loadSetup(this);
                } catch (MigrationException ex) {
                    throw new StreamException(ex.getMessage(), ex);
                }
                if (caps.has(Capability.SWITCHOVER_ACK) && e.handler().switchoverAckNeeded()) {
                    switchoverAckPending++;
                }
            }
        }
        while (true) {
            where = lastSection == null ? "record header" : "record header after section " + lastSection;
            int type = in.getU8();
            switch (type) {
                case SectionType.SECTION_START, SectionType.SECTION_FULL -> loadFull(in, type);
                case SectionType.SECTION_PART, SectionType.SECTION_END -> loadPart(in, type);
                case SectionType.COMMAND -> command(in);
                case SectionType.EOF -> {
                    where = "vmdesc after EOF";
                    skipVmdesc(in);
                    return config;
                }
                default -> throw new StreamException("Unknown savevm section type " + type);
            }
        }
    }

    /**
     * QEMU's {@code vmstate_uuid_post_load}: a received UUID must equal ours; a destination without
     * a {@code -uuid} only warns. The subsection is checked whatever this side's capabilities are.
     */
    private void checkUuid(Optional<UUID> received) throws StreamException {
        if (received.isEmpty()) {
            return;
        }
        if (uuid.isEmpty()) {
            LOG.warn("UUID is received {}, but local uuid isn't set", received.get());
        } else if (!uuid.get().equals(received.get())) {
            throw new StreamException("UUID received is " + received.get() + " and local is " + uuid.get());
        }
    }

    private void loadFull(MigrationInput in, int type) throws IOException {
        where = SectionType.name(type) + " section header" + (lastSection == null ? "" : " after section " + lastSection);
        SectionHeaderDescriptor.Full h = SectionHeaderDescriptor.readFull(in, type);
        SaveStateEntry e = registry.find(h.idstr(), h.instanceId());
        if (e == null) {
            throw new StreamException("Unknown savevm section or instance '" + h.idstr() + "' " + h.instanceId()
                    + ". Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices");
        }
        // QEMU reads version_id as uint32_t: 0xffffffff is a version far too new, not -1
        if (Integer.compareUnsigned(h.versionId(), e.versionId()) > 0) {
            throw new StreamException("savevm: unsupported version " + Integer.toUnsignedString(h.versionId())
                    + " for '" + h.idstr() + "' v" + e.versionId());
        }
        if (type == SectionType.SECTION_START && !e.isIterative()) {
            throw new StreamException("section '" + h.idstr() + "' (id " + h.sectionId() + ") is not iterative but arrived as START");
        }
        Loaded prev = sections.putIfAbsent(h.sectionId(), new Loaded(e, h.versionId()));
        if (prev != null && prev.entry() != e) {
            throw new StreamException("section id " + h.sectionId() + " of '" + h.idstr() + "' already names '" + prev.entry().idstr() + "'");
        }
        loadSection(in, e, h.versionId(), type, h.sectionId());
    }

    private void loadPart(MigrationInput in, int type) throws IOException {
        where = SectionType.name(type) + " section header" + (lastSection == null ? "" : " after section " + lastSection);
        int sectionId = in.getBe32();
        Loaded l = sections.get(sectionId);
        if (l == null) {
            throw new StreamException("Unknown savevm section " + sectionId);
        }
        loadSection(in, l.entry(), l.versionId(), type, sectionId);
    }

    private void loadSection(MigrationInput in, SaveStateEntry e, int versionId, int type, int sectionId) throws IOException {
        where = String.format("error while loading state for instance 0x%x of device '%s' (section %d, %s)",
                e.instanceId(), e.idstr(), sectionId, SectionType.name(type));
        try {
            e.handler().loadState(in, versionId, type);
        } catch (RuntimeException ex) {
            throw new StreamException(ex.toString(), ex);
        }
        where = "footer of section '" + e.idstr() + "' (id " + sectionId + ")";
        SectionFooterDescriptor.check(in, sectionId, e.idstr());
        lastSection = "'" + e.idstr() + "' (id " + sectionId + ", " + SectionType.name(type) + ")";
    }

    private void command(MigrationInput in) throws IOException {
        where = "command";
        CommandDescriptor.Header h = CommandDescriptor.readHeader(in);
        switch (h.cmd()) {
            case CommandDescriptor.OPEN_RETURN_PATH -> {
                CommandDescriptor.checkLength(h, 0);
                if (returnChannel == null) {
                    throw new StreamException("OPEN_RETURN_PATH received, but this transport has no return path");
                }
                returnPathOpen = true;
                if (caps.has(Capability.SWITCHOVER_ACK) && switchoverAckPending == 0) {
                    sendSwitchoverAck();
                }
            }
            case CommandDescriptor.PING -> {
                CommandDescriptor.checkLength(h, CommandDescriptor.PING_LENGTH);
                int value = in.getBe32();
                if (!returnPathOpen) {
                    throw new StreamException("PING (" + Integer.toUnsignedString(value) + ") received with no return path open");
                }
                ReturnPathDescriptor.write(returnChannel, ReturnPathDescriptor.encodeBe32(ReturnPathDescriptor.PONG, value));
            }
            default -> throw new StreamException("Unsupported migration command " + CommandDescriptor.name(h.cmd())
                    + " (len " + h.len() + ")");
        }
    }

    @Override
    public boolean has(Capability c) {
        return caps.has(c);
    }

    @Override
    public void approveSwitchover() throws IOException {
        if (switchoverAckPending == 0) {
            throw new StreamException("switchover approved more often than devices needed it");
        }
        if (--switchoverAckPending == 0) {
            if (!returnPathOpen) {
                throw new StreamException("switchover approved, but the return path is not open");
            }
            sendSwitchoverAck();
        }
    }

    private void sendSwitchoverAck() throws IOException {
        if (!switchoverAckSent) {
            switchoverAckSent = true;
            ReturnPathDescriptor.write(returnChannel, ReturnPathDescriptor.encodeEmpty(ReturnPathDescriptor.SWITCHOVER_ACK));
        }
    }

    /** Whether SWITCHOVER_ACK has gone to the source. */
    public boolean switchoverAckSent() {
        return switchoverAckSent;
    }

    /**
     * After EOF: the vmdesc, read and dropped. Another record type there is only logged, as in
     * QEMU; but a stream that simply ends after EOF is cut short (QEMU fails it too).
     */
    private void skipVmdesc(MigrationInput in) throws IOException {
        int next = in.peekU8();
        if (next < 0) {
            throw new StreamException("migration stream ended after EOF, before its vmdesc");
        }
        if (next != SectionType.VMDESCRIPTION) {
            LOG.warn("Expected vmdescription section, but got {}", next);
            return;
        }
        in.getU8();
        int len = in.getBe32();
        if (len < 0 || len > MAX_VMDESC) {
            throw new StreamException("vmdesc length " + Integer.toUnsignedString(len) + " exceeds " + MAX_VMDESC);
        }
        in.skip(len);
    }
}

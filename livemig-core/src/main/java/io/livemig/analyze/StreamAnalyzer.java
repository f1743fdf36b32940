package io.livemig.analyze;

import io.livemig.devices.block.BlockRecordDescriptor;
import io.livemig.devices.vfio.VfioStreamDescriptor;
import io.livemig.devices.ram.RamRecordDescriptor;
import io.livemig.guest.PageSize;
import io.livemig.stream.CommandDescriptor;
import io.livemig.stream.ConfigurationSection;
import io.livemig.stream.MigrationInput;
import io.livemig.stream.SectionFooterDescriptor;
import io.livemig.stream.SectionHeaderDescriptor;
import io.livemig.stream.SectionType;
import io.livemig.stream.StreamException;
import io.livemig.stream.StreamHeaderDescriptor;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a saved migration stream (a {@code file:} or {@code exec:cat > FILE} stream, from
 * livemig or QEMU) without a guest, and lists what it carries: livemig's counterpart of QEMU's
 * {@code scripts/analyze-migration.py}.
 *
 * <p>Like the script, it first finds the vmdesc JSON at the end of the file ({@code 0x06 | be32
 * len | json} as the file's last bytes) and uses its field sizes to step over FULL sections;
 * RAM sections are parsed record by record. Other iterative sections cannot be parsed without
 * their device and end the analysis with an error naming them.
 */
public final class StreamAnalyzer {

    /**
     * One top-level record of the stream; {@code ramCounts} holds the record counts of a
     * {@code ram} section (blocks, zero, normal) or of a {@code block} section (chunks,
     * zero-chunks, progress).
     */
    public record Record(String type, int sectionId, String idstr, int instanceId, int versionId,
                         long offset, long length, Map<String, Long> ramCounts, String payloadHex) {

        /** Same shape, ignoring offsets, lengths and RAM counts (which depend on timing). */
        public String shape() {
            return type + (idstr.isEmpty() ? "" : " " + idstr + "/" + instanceId + " v" + versionId)
                    + (sectionId >= 0 ? " id " + sectionId : "");
        }
    }

    /** The whole analysis. */
    public record Analysis(String machine, List<Record> records, String vmdesc) {

        /** The record shapes with consecutive identical PART records folded into one. */
        public List<String> foldedShapes() {
            List<String> out = new ArrayList<>();
            for (Record r : records) {
                String s = r.shape();
                if (!out.isEmpty() && s.startsWith("SECTION_PART") && out.getLast().equals(s)) {
                    continue;
                }
                out.add(s);
            }
            return out;
        }
    }

    private StreamAnalyzer() {
    }

    public static Analysis analyze(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        String vmdesc = findVmdesc(all);
        Map<String, Integer> fullSizes = fullSectionSizes(vmdesc);
        MigrationInput in = new MigrationInput(Channels.newChannel(new java.io.ByteArrayInputStream(all)));
        StreamHeaderDescriptor.read(in);
        ConfigurationSection.Configuration config = ConfigurationSection.read(in);
        List<Record> records = new ArrayList<>();
        Map<Integer, SectionHeaderDescriptor.Full> sections = new HashMap<>();
        while (true) {
            long start = in.position();
            int type = in.getU8();
            switch (type) {
                case SectionType.SECTION_START, SectionType.SECTION_FULL -> {
                    SectionHeaderDescriptor.Full h = SectionHeaderDescriptor.readFull(in, type);
                    sections.put(h.sectionId(), h);
                    records.add(section(in, type, h, start, fullSizes));
                }
                case SectionType.SECTION_PART, SectionType.SECTION_END -> {
                    int id = in.getBe32();
                    SectionHeaderDescriptor.Full h = sections.get(id);
                    if (h == null) {
                        throw new StreamException("section id " + id + " used before its START");
                    }
                    records.add(section(in, type, h, start, fullSizes));
                }
                case SectionType.COMMAND -> {
                    CommandDescriptor.Header c = CommandDescriptor.readHeader(in);
                    in.skip(c.len());
                    records.add(new Record("COMMAND " + CommandDescriptor.name(c.cmd()), -1, "", 0, 0, start,
                            in.position() - start, Map.of(), ""));
                }
                case SectionType.EOF -> {
                    records.add(new Record("EOF", -1, "", 0, 0, start, 1, Map.of(), ""));
                    return new Analysis(config.machine(), records, vmdesc);
                }
                default -> throw new StreamException("Unknown savevm section type " + type + " at byte " + start);
            }
        }
    }

    private static Record section(MigrationInput in, int type, SectionHeaderDescriptor.Full h, long start,
                                  Map<String, Integer> fullSizes) throws IOException {
        Map<String, Long> counts = Map.of();
        String payload = "";
        if (h.idstr().equals(RamRecordDescriptor.IDSTR)) {
            counts = ram(in);
        } else if (h.idstr().equals(BlockRecordDescriptor.IDSTR)) {
            counts = block(in);
        } else if (h.idstr().endsWith(VfioStreamDescriptor.IDSTR_SUFFIX) && type != SectionType.SECTION_FULL) {
            counts = vfio(in);
        } else if (type == SectionType.SECTION_FULL) {
            Integer size = fullSizes.get(h.idstr() + "/" + h.instanceId());
            if (size == null) {
                throw new StreamException("FULL section '" + h.idstr() + "' has no vmdesc entry; cannot step over it");
            }
            byte[] b = new byte[size];
            in.getBytes(b);
            payload = HexFormat.of().formatHex(b);
        } else {
            throw new StreamException("cannot parse iterative section '" + h.idstr() + "' without its device");
        }
        SectionFooterDescriptor.check(in, h.sectionId(), h.idstr());
        return new Record(SectionType.name(type), h.sectionId(), h.idstr(), h.instanceId(), h.versionId(), start,
                in.position() - start, counts, payload);
    }

    /** Counts a RAM section's records until EOS. */
    private static Map<String, Long> ram(MigrationInput in) throws IOException {
        long zero = 0;
        long normal = 0;
        long blocks = 0;
        while (true) {
            long word = in.getBe64();
            int flags = (int) (word & RamRecordDescriptor.FLAGS_MASK);
            if ((flags & RamRecordDescriptor.FLAG_MEM_SIZE) != 0) {
                long left = word & ~RamRecordDescriptor.FLAGS_MASK;
                while (left > 0) {
                    in.getStr8();
                    left -= in.getBe64();
                    blocks++;
                }
                continue;
            }
            if ((flags & RamRecordDescriptor.FLAG_EOS) != 0) {
                Map<String, Long> m = new LinkedHashMap<>();
                m.put("blocks", blocks);
                m.put("zero", zero);
                m.put("normal", normal);
                return m;
            }
            if ((flags & RamRecordDescriptor.FLAG_CONTINUE) == 0) {
                in.getStr8();
            }
            if ((flags & RamRecordDescriptor.FLAG_ZERO) != 0) {
                in.getU8();
                zero++;
            } else if ((flags & RamRecordDescriptor.FLAG_PAGE) != 0) {
                in.skip(PageSize.TARGET_PAGE_SIZE);
                normal++;
            } else {
                throw new StreamException(String.format("ram record flags 0x%x not understood", flags));
            }
        }
    }

    /**
     * Counts a VFIO iterative section's DATA records and bytes until END_OF_STATE, or until
     * DEV_INIT_DATA_SENT, which ends a payload too (QEMU's vfio_load_state).
     */
    private static Map<String, Long> vfio(MigrationInput in) throws IOException {
        long records = 0;
        long bytes = 0;
        while (true) {
            long marker = in.getBe64();
            if (marker == VfioStreamDescriptor.END_OF_STATE || marker == VfioStreamDescriptor.DEV_INIT_DATA_SENT) {
                Map<String, Long> m = new LinkedHashMap<>();
                m.put("data-records", records);
                m.put("data-bytes", bytes);
                m.put("init-data-sent", marker == VfioStreamDescriptor.DEV_INIT_DATA_SENT ? 1L : 0L);
                return m;
            }
            if (marker == VfioStreamDescriptor.DEV_DATA_STATE) {
                long size = in.getBe64();
                if (size < 0 || size > VfioStreamDescriptor.DATA_BUFFER_SIZE) {
                    throw new StreamException("vfio DATA size " + size + " over " + VfioStreamDescriptor.DATA_BUFFER_SIZE);
                }
                in.skip(size);
                records++;
                bytes += size;
            } else if (marker != VfioStreamDescriptor.DEV_SETUP_STATE) {
                throw new StreamException(String.format("vfio marker 0x%x not understood in an iterative section", marker));
            }
        }
    }

    /** Counts a block section's records until EOS: DEVICE_BLOCK chunks (ZERO_BLOCK ones apart) and PROGRESS. */
    private static Map<String, Long> block(MigrationInput in) throws IOException {
        long chunks = 0;
        long zero = 0;
        long progress = 0;
        int flags;
        do {
            flags = BlockRecordDescriptor.flagsOf(in.getBe64());
            if ((flags & BlockRecordDescriptor.FLAG_DEVICE_BLOCK) != 0) {
                in.getStr8();
                if ((flags & BlockRecordDescriptor.FLAG_ZERO_BLOCK) != 0) {
                    zero++;
                } else {
                    in.skip(BlockRecordDescriptor.BLOCK_SIZE);
                    chunks++;
                }
            } else if ((flags & BlockRecordDescriptor.FLAG_PROGRESS) != 0) {
                progress++;
            } else if ((flags & BlockRecordDescriptor.FLAG_EOS) == 0) {
                throw new StreamException(String.format("block record flags 0x%x not understood", flags));
            }
        } while ((flags & BlockRecordDescriptor.FLAG_EOS) == 0);
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("chunks", chunks);
        m.put("zero-chunks", zero);
        m.put("progress", progress);
        return m;
    }

    /** The vmdesc JSON at the end of the file, as analyze-migration.py finds it, or "" when absent. */
    static String findVmdesc(byte[] all) {
        for (int p = all.length - 6; p >= 0; p--) {
            if (all[p] == SectionType.VMDESCRIPTION && all[p + 5] == '{') {
                long len = ByteBuffer.wrap(all, p + 1, 4).getInt() & 0xffffffffL;
                if (len == all.length - p - 5L) {
                    return new String(all, p + 5, (int) len, StandardCharsets.UTF_8);
                }
            }
        }
        return "";
    }

    /** (idstr/instance) → payload size of its FULL section, from the vmdesc field sizes. */
    private static Map<String, Integer> fullSectionSizes(String vmdesc) {
        Map<String, Integer> sizes = new HashMap<>();
        if (vmdesc.isEmpty()) {
            return sizes;
        }
        JsonNode root = JsonMapper.builder().build().readTree(vmdesc);
        for (JsonNode dev : root.path("devices")) {
            int size = 0;
            for (JsonNode f : dev.path("fields")) {
                size += f.path("size").asInt();
            }
            sizes.put(dev.path("name").asString() + "/" + dev.path("instance_id").asInt(), size);
        }
        return sizes;
    }
}

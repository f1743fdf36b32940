package io.livemig.devices.ram;

/**
 * RAM section records (section {@code ram}, version 4). Every record starts with a be64
 * "address word": the page offset within its RAM block, with flags in the low 12 bits.
 *
 * <pre>
 *  be64 addr|flags
 *    MEM_SIZE  (setup)   addr = total RAM bytes; then per block: str8 idstr | be64 used_length
 *    ZERO                [str8 idstr unless CONTINUE] | u8 fill (must be 0)
 *    PAGE                [str8 idstr unless CONTINUE] | 4096 bytes
 *    XBZRLE              [str8 idstr unless CONTINUE] | u8 0x01 (ENCODING_FLAG_XBZRLE)
 *                        | be16 encoded length (at most 4096) | encoded bytes (see XbzrleEncoder)
 *    EOS                 end of this section's records (ends every RAM section)
 *  CONTINUE is ORed onto ZERO/PAGE/XBZRLE: same block as the previous record on this channel.
 * </pre>
 */
public final class RamRecordDescriptor {

    public static final String IDSTR = "ram";
    public static final int VERSION = 4;

    public static final int FLAG_FULL = 0x01;
    public static final int FLAG_ZERO = 0x02;
    public static final int FLAG_MEM_SIZE = 0x04;
    public static final int FLAG_PAGE = 0x08;
    public static final int FLAG_EOS = 0x10;
    public static final int FLAG_CONTINUE = 0x20;
    public static final int FLAG_XBZRLE = 0x40;
    public static final int FLAG_HOOK = 0x80;
    public static final int FLAG_COMPRESS_PAGE = 0x100;
    public static final int FLAG_MULTIFD_FLUSH = 0x200;

    /** The flag bits live below the target page size. */
    public static final long FLAGS_MASK = 0xfffL;

    /** The only XBZRLE encoding byte QEMU defines. */
    public static final int ENCODING_FLAG_XBZRLE = 0x01;
    /** Bytes between the address word (and name) and the encoded bytes of an XBZRLE record: flag + be16 length. */
    public static final int XBZRLE_HEADER_LENGTH = 1 + 2;

    /** Bytes of a ZERO record with CONTINUE: address word + fill byte. */
    public static final int ZERO_RECORD_LENGTH = 8 + 1;

    private RamRecordDescriptor() {
    }
}

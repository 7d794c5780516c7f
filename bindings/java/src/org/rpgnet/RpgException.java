package org.rpgnet;

/** A failed rpgnet call: the rpg_status code (RpgNativeConstants.RPG_STATUS_*) and the library's message. */
public class RpgException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;

  public RpgException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** The negative RPG_STATUS_* code. */
  public int status() { return status; }
}

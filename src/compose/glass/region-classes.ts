/** The classes the glass stage gives the regions inside a product (glass-regions.ts and its helpers). */
export const CLASS_BACKGROUND = 0;
export const CLASS_OPAQUE = 1;
export const CLASS_GLASS = 2;

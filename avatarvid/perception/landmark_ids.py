"""Named index groups of the 478-point mediapipe face mesh (468 + 10 iris points).

"Left"/"right" are the subject's: for a frontal photo the subject's left side is on the
image's right. Contours are ordered along the curve.
"""

# fmt: off

NUM_LANDMARKS = 478
NUM_MESH = 468

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
             54, 103, 67, 109)

LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37,
              39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82,
              81, 80, 191)
UPPER_LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_LIP_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
UPPER_LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_LIP_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CORNER_RIGHT = 61
MOUTH_CORNER_LEFT = 291
UPPER_LIP_TOP = 0
UPPER_LIP_BOTTOM = 13
LOWER_LIP_TOP = 14
LOWER_LIP_BOTTOM = 17

RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM = 159, 145
LEFT_EYE_TOP, LEFT_EYE_BOTTOM = 386, 374

# Iris centre + 4 rim points. Which block belongs to which eye is checked geometrically
# by code that depends on it; these names follow the mediapipe documentation.
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)

RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
RIGHT_BROW_INNER = (107, 66, 55, 65)
LEFT_BROW_INNER = (336, 296, 285, 295)
RIGHT_BROW_OUTER = (70, 63, 46, 53)
LEFT_BROW_OUTER = (300, 293, 276, 283)

FOREHEAD_TOP = 10
CHIN = 152
NOSE_TIP = 1
NOSE_BRIDGE = (168, 6, 197, 195, 5)

# Points that move with the skull but not with expressions: used to fit head pose.
RIGID = (10, 109, 338, 67, 297, 168, 6, 197, 195, 5, 4, 33, 133, 263, 362, 234, 454, 127,
         356, 98, 327)

# Eye-aspect-ratio points p1..p6 per eye: corner, two upper lid, other corner, two lower lid
# (p2 above p6, p3 above p5), as in Soukupova & Cech's EAR.
RIGHT_EYE_EAR = (33, 160, 158, 133, 153, 144)
LEFT_EYE_EAR = (263, 387, 385, 362, 380, 373)
# fmt: on

"""Text and image-text adapters: VQA-RAD (radiology visual questions), BioMed-VITAL
(image-grounded instruction conversations) and MedQA-USMLE (multiple-choice exam questions).
Their free text is checked for PHI (:mod:`climb.harmonize.phi`) before a record is made."""

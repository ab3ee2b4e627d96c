"""2D MRI slice adapters (Brain Tumor MRI, Brain MRI): one record per image."""
